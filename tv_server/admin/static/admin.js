/* LegalTV admin: small progressive enhancements only; every form works without it. */
(function () {
  'use strict';
  // Ask before destructive actions: <button data-confirm="…">.
  document.addEventListener('submit', function (event) {
    var button = event.submitter || document.activeElement;
    var question = button && button.getAttribute && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
