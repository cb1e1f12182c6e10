// Imports: follow a running import job, and say "Uploading…" while a file is sent.
// Plain JavaScript, no libraries; without it the pages still work (reload link).
// Its texts come from the page, in the page's language (data-t-* attributes).
(function () {
  'use strict';

  var form = document.querySelector('[data-upload-form]');
  if (form) {
    form.addEventListener('submit', function () {
      var button = form.querySelector('button[type=submit]');
      if (button) {
        // Disable after the browser has taken the submission, so the form still posts.
        var text = form.getAttribute('data-t-uploading');
        window.setTimeout(function () { button.disabled = true; if (text) { button.textContent = text; } }, 0);
      }
    });
  }

  var box = document.querySelector('[data-import-status]');
  if (!box) { return; }
  var state = box.getAttribute('data-state');
  if (state === 'finished' || state === 'failed') { return; }

  var url = box.getAttribute('data-status-url');
  var bar = box.querySelector('.progress');
  var fill = bar && bar.querySelector('span');
  var label = box.querySelector('[data-progress-label]');
  var hint = box.querySelector('[data-reload-hint]');
  if (hint) { hint.hidden = true; }

  function show(status) {
    var pct = Math.round((status.progress || 0) * 100);
    if (fill) { fill.style.width = pct + '%'; }
    if (bar) { bar.setAttribute('aria-valuenow', String(pct)); }
    if (label) {
      label.textContent = status.status === 'queued' ? (box.getAttribute('data-t-waiting') || '')
        : (box.getAttribute('data-t-importing') || '{pct} %').replace('{pct}', String(pct));
    }
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', url);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onload = function () {
      var status = null;
      try { status = JSON.parse(xhr.responseText); } catch (e) { status = null; }
      if (xhr.status !== 200 || !status) { window.setTimeout(poll, 2000); return; }
      show(status);
      if (status.status === 'finished' || status.status === 'failed') {
        window.location.reload();  // the server renders the counts and the rejects link
        return;
      }
      window.setTimeout(poll, 500);
    };
    xhr.onerror = function () { window.setTimeout(poll, 2000); };
    xhr.send();
  }

  window.setTimeout(poll, 500);
}());
