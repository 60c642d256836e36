/* The preview's video screen while the transcode runs: polls the job every 2 s, shows its
   progress and, once it is done, loads the frame again (the TV's player with the transcoded
   MP4); after a failure, shows FFmpeg's reason and stops. Only the frame reloads, never the
   editor's page. */
(function () {
  'use strict';
  var box = document.getElementById('pv-pending');
  if (!box || !window.XMLHttpRequest) { return; }
  var url = box.getAttribute('data-status');
  function el(id) { return document.getElementById(id); }
  function show(s) {
    var failed = s.state === 'failed';
    box.setAttribute('data-state', s.state);
    el('pv-line').textContent = s.line || s.label || '';
    el('pv-bar').value = s.percent || 0;
    el('pv-bar').hidden = failed;
    el('pv-note').hidden = failed;
    el('pv-failed').hidden = !failed;
    el('pv-error').textContent = s.error || '';
    el('pv-error').hidden = !s.error;
  }
  function tick() {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', url, true);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var s = null;
      try { s = xhr.status === 200 ? JSON.parse(xhr.responseText) : null; } catch (e) { s = null; }
      if (!s) { setTimeout(tick, 5000); return; }
      if (s.state === 'done') { window.location.replace(window.location.href); return; }
      show(s);
      if (s.state !== 'failed') { setTimeout(tick, 2000); }
    };
    xhr.send();
  }
  if (box.getAttribute('data-state') !== 'failed') { setTimeout(tick, 2000); }
}());
