// Buttons marked .print-btn print the page (statements have a print style sheet).
document.addEventListener('click', function (ev) {
  if (ev.target.closest && ev.target.closest('.print-btn')) { window.print(); }
});
