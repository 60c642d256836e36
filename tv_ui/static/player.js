/* LegalTV video player: remote keys on the video screen; strict ES5, loaded after tv.js.
 * OK play/pause, Left/Right -10/+10 s, digits 1-9 jump to 10-90 %, Back leaves (tv.js) after
 * the position is saved for the home screen's "continue watching". docs/keymaps.md.
 */
(function (window, document) {
  'use strict';

  var LTV = window.LTV, video = document.getElementById('video');
  if (!LTV || !video || !video.hasAttribute('data-player')) { return; }
  var timeEl = document.getElementById('player-time'), doneEl = document.getElementById('player-done');
  var beacon = video.getAttribute('data-at'), lastSent = -1, sentAt = 0;
  var known = parseInt(video.getAttribute('data-duration'), 10) || 0;
  var start = /[?&]t=(\d+)/.exec(location.search);

  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    var m = Math.floor(s / 60), r = s % 60;
    return m + ':' + (r < 10 ? '0' : '') + r;
  }
  function total() { return isFinite(video.duration) && video.duration > 0 ? video.duration : known; }
  function draw() {
    var d = total(), t = video.currentTime || 0;
    if (timeEl) { timeEl.textContent = clock(t) + (d ? ' / ' + clock(d) : ''); }
    if (doneEl) { doneEl.style.width = (d ? Math.min(100, 100 * t / d) : 0) + '%'; }
  }
  function save(sync) {
    var t = Math.floor(video.currentTime || 0);
    if (!beacon || t === lastSent) { return; }
    lastSent = t;
    sentAt = new Date().getTime();
    var x = new XMLHttpRequest();
    x.open('GET', beacon + '?s=' + t + '&d=' + Math.floor(total()), !sync);
    try { x.send(); } catch (e) { /* leaving anyway */ }
  }
  function seek(to) {
    var d = total();
    if (d) { to = Math.min(to, d - 1); }
    video.currentTime = Math.max(0, to);
    draw();
  }
  function onKey(action, el) {
    var mine = !el || el === video || el === document.body;
    if (action === 'back') { save(true); return false; }   // tv.js leaves
    if (/^[1-9]$/.test(action)) {
      if (total()) { seek(total() * parseInt(action, 10) / 10); }
      return true;
    }
    if (!mine) { return false; }
    if (action === 'ok') {
      if (video.paused) { video.play(); } else { video.pause(); }
      return true;
    }
    if (action === 'left' || action === 'right') {
      seek((video.currentTime || 0) + (action === 'left' ? -10 : 10));
      return true;
    }
    return false;
  }

  LTV.onKey = onKey;
  video.addEventListener('timeupdate', function () {
    draw();
    if (!video.paused && new Date().getTime() - sentAt > 15000) { save(false); }
  }, false);
  video.addEventListener('pause', function () { save(false); }, false);
  video.addEventListener('seeked', draw, false);
  video.addEventListener('loadedmetadata', function () {
    if (start && +start[1] > 0) { seek(+start[1]); start = null; }
    draw();
  }, false);
  if (start && video.readyState >= 1) { seek(+start[1]); start = null; }
  draw();
}(window, document));
