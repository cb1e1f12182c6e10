// The script editor's live preview: after typing stops, the form goes to the
// preview URL and the pane shows what agents would read. Without JavaScript the
// preview follows each Save (or Add/Remove/Move), so nothing depends on this file.
(function () {
  var form = document.querySelector('form[data-preview-url]');
  if (!form || !window.fetch || !window.FormData) { return; }
  var timer = null;
  var latest = 0;

  function refresh() {
    var data = new FormData(form);
    data.set('mode', form.getAttribute('data-mode'));
    var mine = ++latest;
    fetch(form.getAttribute('data-preview-url'), {method: 'POST', body: data, credentials: 'same-origin'})
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        var box = document.getElementById('preview');
        if (html !== null && mine === latest && box) { box.outerHTML = html; }
      })
      .catch(function () { /* the saved preview stays; Save still works */ });
  }

  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(refresh, ms);
  }

  form.addEventListener('input', function () { later(500); });
  form.addEventListener('change', function () { later(150); });
  document.addEventListener('click', function (ev) {
    var link = ev.target.closest && ev.target.closest('a[data-preview-language]');
    if (!link) { return; }
    ev.preventDefault();
    form.querySelector('input[name=preview]').value = link.getAttribute('data-preview-language');
    refresh();
  });
})();
