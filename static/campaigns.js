// Campaign pages: live counts while the target is edited, and the progress of
// the assignment job on the campaign page. Plain JavaScript, no libraries;
// without it the pages still work (the preview shows the counts, a reload
// link follows the job).
(function () {
  'use strict';

  // Texts come from the page (data-t-* attributes, translated there); {name} is filled in here.
  var fill = function (text, values) {
    return (text || '').replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  };
  var lang = document.documentElement.getAttribute('lang') || undefined;

  // ---------------------------------------------------------------- live counts
  var form = document.querySelector('form[data-live-counts]');
  var box = document.querySelector('[data-live-box]');
  if (form && box) {
    var url = form.getAttribute('data-live-counts');
    var campaignId = form.getAttribute('data-campaign-id');
    var note = box.querySelector('[data-live-note]');
    var fields = ['as_of', 'buckets', 'tiers', 'value_classes', 'stores', 'languages', 'languages_other', 'last_services'];
    var timer = null, seq = 0, lastQuery = null;

    var query = function () {
      var params = new URLSearchParams();
      fields.forEach(function (name) {
        form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
          if ((el.type === 'checkbox' && el.checked) || (el.type !== 'checkbox' && el.value.trim())) {
            params.append(name, el.value.trim());
          }
        });
      });
      if (campaignId) { params.append('campaign', campaignId); }
      return params.toString();
    };

    var show = function (name, n) {
      var el = box.querySelector('[data-live="' + name + '"]');
      if (el) { el.textContent = Number(n).toLocaleString(lang); }
    };

    var refresh = function () {
      var q = query();
      if (q === lastQuery) { return; }
      lastQuery = q;
      var mine = ++seq;
      box.classList.add('stale');
      fetch(url + '?' + q, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (resp) { return resp.json().then(function (body) { return {ok: resp.ok, body: body}; }); })
        .then(function (r) {
          if (mine !== seq) { return; }  // a newer request is on its way
          box.classList.remove('stale');
          if (!r.ok) {
            box.classList.add('failed');
            // The server's message names the field (it stays English, as the API's do).
            if (note) { note.textContent = (r.body && r.body.error && r.body.error.message) || box.getAttribute('data-t-failed'); }
            return;
          }
          box.classList.remove('failed');
          show('targeted', r.body.targeted);
          show('eligible', r.body.eligible);
          if (note) { note.textContent = box.getAttribute('data-t-counted'); }
        })
        .catch(function () {
          if (mine !== seq) { return; }
          box.classList.remove('stale');
          box.classList.add('failed');
          if (note) { note.textContent = box.getAttribute('data-t-offline'); }
        });
    };

    var later = function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    };
    form.addEventListener('change', later);
    form.addEventListener('input', later);
    refresh();
  }

  // ---------------------------------------------------------------- job progress
  var job = document.querySelector('[data-job-status]');
  if (job) {
    var state = job.getAttribute('data-state');
    if (state !== 'queued' && state !== 'started') { return; }
    var statusUrl = job.getAttribute('data-status-url');
    var bar = job.querySelector('.progress');
    var fill = bar && bar.querySelector('span');
    var label = job.querySelector('[data-progress-label]');
    var hint = job.querySelector('[data-reload-hint]');
    if (hint) { hint.hidden = true; }

    var poll = function () {
      fetch(statusUrl, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (s) {
          if (!s) { window.setTimeout(poll, 2000); return; }
          if (s.status === 'finished' || s.status === 'failed') {
            window.location.reload();  // the server renders the counts and queues (or the error)
            return;
          }
          var pct = Math.round((s.progress || 0) * 100);
          if (fill) { fill.style.width = pct + '%'; }
          if (bar) { bar.setAttribute('aria-valuenow', String(pct)); }
          if (label) {
            label.textContent = s.status === 'queued' ? job.getAttribute('data-t-waiting')
              : fill(job.getAttribute('data-t-placing'), {pct: pct});
          }
          window.setTimeout(poll, 700);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    window.setTimeout(poll, 500);
  }
}());
