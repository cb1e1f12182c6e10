// The agent's call workspace: keyboard first (N next client, digits pick the
// disposition, Enter saves and takes the next), one script step at a time,
// and a claim timer. Without JavaScript every step and field is just shown.
(function () {
  'use strict';
  function typing(el) {
    if (!el || !el.tagName) return false;
    var t = el.tagName.toLowerCase();
    if (t === 'textarea' || t === 'select') return true;
    if (t === 'input') return !/^(radio|checkbox|button|submit|hidden)$/.test(el.type);
    return false;
  }

  // Texts come from the page (data-t-* attributes, translated there); {name} is filled in here.
  function fill(text, values) {
    return (text || '').replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }

  document.addEventListener('DOMContentLoaded', function () {
    // ---- my rank this month, fetched after the page is up (it never slows the next client)
    var rank = document.getElementById('my-rank');
    if (rank && window.fetch) {
      fetch(rank.getAttribute('data-src'), {credentials: 'same-origin'})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (me) {
          if (me && me.rank) { rank.textContent = fill(rank.getAttribute('data-t-rank'), me); }
        }).catch(function () {});
    }
    var nextForm = document.getElementById('next-form');
    var outcome = document.getElementById('outcome-form');
    var work = document.querySelector('.work');

    // ---- the script: one step at a time, answers branch
    var steps = Array.prototype.slice.call(document.querySelectorAll('.script .step'));
    var history = [];
    var counter = document.getElementById('step-count');
    var scriptCard = document.querySelector('.script');
    function show(key) {
      var found = false;
      steps.forEach(function (s, i) {
        var on = s.getAttribute('data-key') === key;
        s.hidden = !on;
        if (on) { found = true; if (counter) counter.textContent = fill(scriptCard.getAttribute('data-t-step'), {n: i + 1, total: steps.length}); }
      });
      return found;
    }
    function current() {
      for (var i = 0; i < steps.length; i++) if (!steps[i].hidden) return i;
      return 0;
    }
    if (steps.length) {
      work.classList.add('js');
      show(steps[0].getAttribute('data-key'));
      document.getElementById('step-next').addEventListener('click', function () {
        var i = current();
        if (i + 1 < steps.length) { history.push(steps[i].getAttribute('data-key')); show(steps[i + 1].getAttribute('data-key')); }
      });
      document.getElementById('step-back').addEventListener('click', function () {
        if (history.length) show(history.pop());
      });
    }
    var reasonSelect = document.getElementById('reason');
    var offerSelect = document.getElementById('offer');
    var remedy = document.getElementById('remedy');
    function showRemedy(code) {
      var dd = document.querySelector('.remedies dd[data-reason="' + code + '"]');
      var dt = document.querySelector('.remedies dt[data-reason="' + code + '"]');
      if (!dd || !remedy) return;
      remedy.hidden = false;
      remedy.textContent = '';
      var b = document.createElement('b'); b.textContent = fill(scriptCard.getAttribute('data-t-remedy'), {reason: dt ? dt.textContent : code});
      remedy.appendChild(b);
      remedy.appendChild(document.createTextNode(dd.textContent));
      var offer = dd.getAttribute('data-offer');
      if (offer && offerSelect && !offerSelect.value) offerSelect.value = offer;
    }
    document.querySelectorAll('.answer').forEach(function (btn) {
      btn.addEventListener('click', function () {
        var step = btn.getAttribute('data-step'), ans = btn.getAttribute('data-answer');
        var input = document.querySelector('input[data-answer-for="' + step + '"]');
        if (input) input.value = ans;
        btn.parentNode.querySelectorAll('.answer').forEach(function (b) { b.classList.toggle('chosen', b === btn); });
        if (reasonSelect && reasonSelect.querySelector('option[value="' + ans + '"]')) {
          reasonSelect.value = ans; showRemedy(ans);
        }
        var next = btn.getAttribute('data-next');
        if (next && next !== 'end') { history.push(step); show(next); }
      });
    });
    if (reasonSelect) reasonSelect.addEventListener('change', function () { if (reasonSelect.value) showRemedy(reasonSelect.value); });

    // ---- the disposition picks which fields show
    function sync() {
      if (!outcome) return;
      var picked = outcome.querySelector('input[name="disposition"]:checked');
      var value = picked ? picked.value : '';
      outcome.querySelectorAll('.when').forEach(function (w) { w.hidden = w.getAttribute('data-for') !== value; });
    }
    if (outcome) {
      outcome.addEventListener('change', sync);
      sync();
    }

    // ---- keys
    document.addEventListener('keydown', function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var key = ev.key;
      if (nextForm && !typing(ev.target) && (key === 'n' || key === 'N' || (key === 'Enter' && ev.target === document.body))) {
        ev.preventDefault(); nextForm.requestSubmit ? nextForm.requestSubmit() : nextForm.submit(); return;
      }
      if (!outcome) return;
      if (key === 'Enter' && ev.target.tagName !== 'TEXTAREA' && ev.target.tagName !== 'BUTTON') {
        ev.preventDefault(); document.getElementById('save-next').click(); return;
      }
      if (typing(ev.target)) return;
      var radio = outcome.querySelector('input[name="disposition"][data-key="' + key.toLowerCase() + '"]');
      if (radio) {
        ev.preventDefault(); radio.checked = true; radio.focus(); sync();
        var first = outcome.querySelector('.when:not([hidden]) input');
        if (first) first.focus();
      }
    });

    // ---- the claim timer
    var timer = document.getElementById('claim-timer');
    if (work && timer) {
      var until = Date.parse(work.getAttribute('data-expires'));
      var base = timer.textContent;
      var tick = function () {
        var left = Math.round((until - Date.now()) / 1000);
        if (left <= 0) { timer.textContent = timer.getAttribute('data-t-expired'); timer.classList.add('bad'); return; }
        var m = Math.floor(left / 60), s = left % 60;
        timer.textContent = fill(timer.getAttribute('data-t-left'), {time: m + ':' + (s < 10 ? '0' : '') + s}) + ' ' + base;
        setTimeout(tick, 1000);
      };
      tick();
    }
  });
})();
