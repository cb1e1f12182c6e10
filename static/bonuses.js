// Run page: show or hide the agents with nothing this month.
document.addEventListener('click', function (ev) {
  var btn = ev.target.closest && ev.target.closest('.toggle-idle');
  if (!btn) { return; }
  var body = document.getElementById(btn.getAttribute('aria-controls'));
  var open = body.hasAttribute('hidden');
  if (open) { body.removeAttribute('hidden'); } else { body.setAttribute('hidden', ''); }
  btn.setAttribute('aria-expanded', open ? 'true' : 'false');
  // The texts come from the page, in its language (data-t-show / data-t-hide).
  var text = btn.getAttribute(open ? 'data-t-hide' : 'data-t-show');
  if (text) { btn.textContent = text; }
});
