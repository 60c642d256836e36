/* The program page's transcode status: polls video.json every 2 s until the job ends. */
(function () {
  'use strict';
  var box = document.getElementById('video-status');
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute('data-url');
  var label = box.querySelector('.video-state'), bar = box.querySelector('progress');
  var eta = box.querySelector('.video-eta'), err = box.querySelector('.video-error');
  function tick() {
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        box.setAttribute('data-state', s.state);
        if (label) { label.textContent = s.label || ''; }
        if (bar) { bar.value = s.percent || 0; bar.textContent = Math.round(s.percent || 0) + '%'; }
        if (eta) { eta.textContent = s.eta || ''; }
        if (err) { err.textContent = s.error || ''; err.hidden = !s.error; }
        if (s.state === 'queued' || s.state === 'running') { setTimeout(tick, 2000); }
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  if (box.getAttribute('data-state') === 'queued' || box.getAttribute('data-state') === 'running') {
    tick();
  }
}());
