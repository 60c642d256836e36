/* LegalTV admin: small progressive enhancements only; every form works without it. */
(function () {
  'use strict';
  // Ask before destructive actions: <button data-confirm="…">.
  document.addEventListener('submit', function (event) {
    var button = event.submitter || document.activeElement;
    var question = button && button.getAttribute && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
  // <select data-shows> shows its form's [data-show-for="VALUE"] parts only for that value
  // (the call-again time for "约定再打", "complete too" for "已接通").
  function follow(select) {
    var parts = select.form.querySelectorAll('[data-show-for]');
    for (var i = 0; i < parts.length; i++) {
      parts[i].hidden = parts[i].getAttribute('data-show-for') !== select.value;
    }
  }
  var selects = document.querySelectorAll('select[data-shows]');
  for (var i = 0; i < selects.length; i++) {
    follow(selects[i]);
    selects[i].addEventListener('change', function (event) { follow(event.target); });
  }
})();
