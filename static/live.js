// Refresh a server-rendered fragment in place: the element's data-src is
// fetched every data-every seconds and replaces its content (no page reload).
// A failed fetch keeps the last numbers and says so; the next tick tries again.
(function () {
  var box = document.getElementById('live');
  if (!box || !window.fetch) { return; }
  var every = Math.max(5, parseInt(box.getAttribute('data-every'), 10) || 20) * 1000;
  function tick() {
    if (document.hidden) { return Promise.resolve(); }
    return fetch(box.getAttribute('data-src'), {credentials: 'same-origin', headers: {'X-Requested-With': 'fetch'}})
      .then(function (r) { if (!r.ok && r.status !== 422) { throw new Error(r.status); } return r.text(); })
      .then(function (html) { box.innerHTML = html; box.classList.remove('stale'); })
      .catch(function () { box.classList.add('stale'); });
  }
  setInterval(tick, every);
  window.winbackRefresh = tick;  // refresh now (tests, and a console user who cannot wait)
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { tick(); } });
})();
