// Run page: show or hide the agents with nothing this month.
document.addEventListener('click', function (ev) {
  var btn = ev.target.closest && ev.target.closest('.toggle-idle');
  if (!btn) { return; }
  var body = document.getElementById(btn.getAttribute('aria-controls'));
  var open = body.hasAttribute('hidden');
  if (open) { body.removeAttribute('hidden'); } else { body.setAttribute('hidden', ''); }
  btn.setAttribute('aria-expanded', open ? 'true' : 'false');
  btn.textContent = open ? btn.textContent.replace(/^Show/, 'Hide') : btn.textContent.replace(/^Hide/, 'Show');
});
