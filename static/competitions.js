// The competition form: show the agent pickers or the team pickers for the kind chosen.
(function () {
  var kind = document.getElementById('c-kind');
  if (!kind) { return; }
  function sync() {
    document.querySelector('.agent-sides').hidden = kind.value === 'team';
    document.querySelector('.team-sides').hidden = kind.value !== 'team';
  }
  kind.addEventListener('change', sync);
  sync();
})();
