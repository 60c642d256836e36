/* LegalTV video player: remote keys on the video screen; strict ES5, after tv.js. docs/keymaps.md.
 * OK play/pause; Left/Right -10/+10 s (held: 30 s, then 60 s a step; the seek is made when the
 * key rests, the thumbnail of the target shows meanwhile); Up shows the info bar (Up again: its
 * buttons), Down hides it; 1-9 jump to 10-90 %; yellow: subtitles on/off (kept per box); Back
 * asks once when more than a minute remains; at the end the next program of the category is
 * offered. The position is saved for the home screen's "continue watching".
 */
(function (window, document) {
  'use strict';

  var LTV = window.LTV, video = document.getElementById('video');
  if (!LTV || !video || !video.hasAttribute('data-player')) { return; }
  function byId(id) { return document.getElementById(id); }
  function attr(name) { return video.getAttribute(name); }
  function show(el, on) { if (el) { el.className = el.className.replace(/ ?\bhidden\b/g, '') + (on ? '' : ' hidden'); } }
  function visible(el) { return el && !/\bhidden\b/.test(el.className); }
  var nowEl = byId('t-now'), ofEl = byId('t-of'), totalEl = byId('t-total'), doneEl = byId('player-done'), info = byId('info'),
    subsEl = byId('subs'), subsBtn = byId('subs-btn'), ask = byId('ask'), end = byId('end'),
    thumb = byId('thumb');
  var beacon = attr('data-at'), lastSent = -1, sentAt = 0, target = null, seekTimer = null;
  var known = parseInt(attr('data-duration'), 10) || 0, start = /[?&]t=(\d+)/.exec(location.search);
  var subsOn = attr('data-subs-on') === '1', cues = null, asked = false;
  var lastSeek = 0, lastDir = '', streak = 0;
  var thumbs = (attr('data-thumbs') || '').split(' ');   // url every width height columns

  function clock(s) {
    s = Math.max(0, Math.floor(s || 0));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    return (h ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + (r < 10 ? '0' : '') + r;
  }
  function total() { return isFinite(video.duration) && video.duration > 0 ? video.duration : known; }
  function now() { return target !== null ? target : video.currentTime || 0; }
  function draw() {
    var d = total(), t = now(), share = d ? Math.min(1, t / d) : 0;
    // Each clock its own element (an upright unit on the vertical Mongolian screen)
    if (nowEl) { nowEl.textContent = clock(t); }
    if (totalEl) { totalEl.textContent = d ? clock(d) : ''; show(ofEl, !!d); }
    // On the vertical Mongolian screen the track runs down the bar's column
    var track = doneEl && doneEl.parentNode, down = track && track.offsetHeight > track.offsetWidth;
    if (doneEl) { doneEl.style[down ? 'height' : 'width'] = 100 * share + '%'; }
    if (thumb && thumbs.length === 5) {
      var every = +thumbs[1], w = +thumbs[2], h = +thumbs[3], cols = +thumbs[4];
      var n = Math.floor(t / every);
      show(thumb, target !== null);
      if (down) {
        thumb.style.top = Math.round(share * track.offsetHeight - h / 2) + 'px';
      } else {
        thumb.style.left = Math.round(share * thumb.parentNode.offsetWidth - w / 2) + 'px';
      }
      thumb.style.backgroundPosition = -(n % cols) * w + 'px ' + -Math.floor(n / cols) * h + 'px';
      if (!thumb.style.backgroundImage) { thumb.style.backgroundImage = 'url(' + thumbs[0] + ')'; }
    }
    cue();
  }
  function send(url, sync) {
    var x = new XMLHttpRequest();
    x.open('GET', url, !sync);
    try { x.send(); } catch (e) { /* leaving anyway */ }
    return x;
  }
  function save(sync) {
    var t = Math.floor(video.currentTime || 0);
    if (!beacon || t === lastSent) { return; }
    lastSent = t;
    sentAt = new Date().getTime();
    send(beacon + '?s=' + t + '&d=' + Math.floor(total()), sync);
  }

  /* ---- Subtitles: our own WebVTT drawn over the video, large and outlined ---- */
  function secs(s) {
    var p = s.split(':'), t = 0, i;
    for (i = 0; i < p.length; i++) { t = t * 60 + parseFloat(p[i]); }
    return t;
  }
  function loadCues() {
    var url = attr('data-subs');
    if (!url || cues) { return; }
    cues = [];
    var x = new XMLHttpRequest();
    x.onreadystatechange = function () {
      if (x.readyState !== 4 || x.status !== 200) { return; }
      var blocks = x.responseText.replace(/\r/g, '').split('\n\n'), i, lines, m;
      for (i = 0; i < blocks.length; i++) {
        lines = blocks[i].split('\n');
        m = /^([\d:.]+) --> ([\d:.]+)/.exec(lines[0]);
        if (m) {
          cues.push([secs(m[1]), secs(m[2]), lines.slice(1).join('\n')
            .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')]);
        }
      }
      cue();
    };
    x.open('GET', url, true);
    x.send();
  }
  function cue() {
    if (!subsEl) { return; }
    var t = now(), text = '', i;
    for (i = 0; subsOn && cues && i < cues.length; i++) {
      if (cues[i][0] <= t && t < cues[i][1]) { text = cues[i][2]; break; }
    }
    if (subsEl.textContent !== text) { subsEl.textContent = text; }
    show(subsEl, text !== '');
  }
  // The subtitle button's label; on the Mongolian image path it is a drawn image, whose other
  // state the server names in NAME-img ("src width height"; tv_server/mongol_image.py).
  function label(name) {
    var drawn = subsBtn.getAttribute(name + '-img'), img = subsBtn.getElementsByTagName('img')[0];
    if (drawn && img) {
      drawn = drawn.split(' ');
      img.src = drawn[0]; img.width = +drawn[1]; img.height = +drawn[2];
      img.alt = subsBtn.getAttribute(name);
    } else {
      subsBtn.textContent = subsBtn.getAttribute(name);
    }
  }
  function setSubs(on) {
    subsOn = on;
    var burned = attr('data-subs-burned');
    send(attr('data-subs-set') + '?on=' + (on ? 1 : 0), burned);
    if (subsBtn) { label(on ? 'data-on' : 'data-off'); placeSubs(); }
    if (burned) {   // the burned-in copy or the clean one: the other file
      save(true);
      location.replace(location.pathname + '?t=' + Math.floor(video.currentTime || 0));
      return;
    }
    if (on) { loadCues(); }
    cue();
  }

  /* ---- Seeking: the target moves at once, the video when the key rests ---- */
  function seekTo(to) {
    var d = total();
    if (d) { to = Math.min(to, d - 1); }
    target = Math.max(0, to);
    draw();
    if (seekTimer) { clearTimeout(seekTimer); }
    seekTimer = setTimeout(function () {
      seekTimer = null;
      video.currentTime = target;
      target = null;
      draw();
    }, 300);
  }
  function step(dir) {
    var t = new Date().getTime();
    streak = dir === lastDir && t - lastSeek < 400 ? streak + 1 : 0;
    lastSeek = t;
    lastDir = dir;
    var by = streak < 4 ? 10 : streak < 10 ? 30 : 60;
    seekTo(now() + (dir === 'left' ? -by : by));
  }
  // The subtitles stand clear of the info bar: while it shows over the picture's foot (the
  // Mongolian image path's bar of drawn labels is that tall), they go up above it; a bar beside
  // the picture (the vertical Mongolian screen) leaves them where they are.
  var wrap = video.parentNode;
  function placeSubs() {
    if (!subsEl || !info) { return; }
    var lift = 0, up = wrap.offsetTop + wrap.offsetHeight - info.offsetTop;
    if (visible(info) && info.offsetLeft < wrap.offsetLeft + wrap.offsetWidth
        && wrap.offsetLeft < info.offsetLeft + info.offsetWidth && up > 0) {
      lift = up + 12;
    }
    subsEl.style.bottom = lift > 20 ? lift + 'px' : '';
  }
  function bar(on) {
    show(info, on);
    placeSubs();
    if (!on) { video.focus(); }
  }

  function onKey(action, el) {
    var mine = !el || el === video || el === document.body, d = total();
    if (visible(ask)) {
      show(ask, false);
      if (action === 'back') { save(true); return false; }   // tv.js leaves
      if (video.paused) { video.play(); }
      return true;
    }
    if (action === 'back') {
      if (ask && !asked && d && d - (video.currentTime || 0) > 60 && !video.ended) {
        asked = true;
        video.pause();
        show(ask, true);
        return true;
      }
      save(true);
      return false;
    }
    if (action === 'yellow') { setSubs(!subsOn); return true; }
    if (/^[1-9]$/.test(action)) {
      if (d) { seekTo(d * parseInt(action, 10) / 10); }
      return true;
    }
    if (action === 'up' && mine) {
      var first = info && info.querySelector('.f');
      if (visible(info) && first) { first.focus(); } else { bar(true); }
      return true;
    }
    if (action === 'down' && !visible(end)) { bar(false); return true; }   // and back to the video
    if (el === subsBtn && action === 'ok') { setSubs(!subsOn); return true; }
    if (!mine) { return false; }
    if (action === 'ok') {
      if (video.paused) { video.play(); } else { video.pause(); }
      return true;
    }
    if (action === 'left' || action === 'right') { step(action); return true; }
    return false;
  }

  LTV.onKey = onKey;
  video.addEventListener('timeupdate', function () {
    draw();
    if (!video.paused && new Date().getTime() - sentAt > 15000) { save(false); }
  }, false);
  video.addEventListener('pause', function () { save(false); bar(true); }, false);
  video.addEventListener('play', function () { show(end, false); }, false);
  video.addEventListener('ended', function () {
    save(false);
    var next = byId('next');
    if (end) { show(end, true); (next || video).focus(); }
  }, false);
  video.addEventListener('seeked', draw, false);
  video.addEventListener('durationchange', draw, false);
  video.addEventListener('loadedmetadata', function () {
    if (start && +start[1] > 0) { video.currentTime = +start[1]; start = null; }
    draw();
  }, false);
  // The video (preload="none") and the subtitles load after the page: the screen's first
  // paint needs neither, and OK before then plays at once anyway.
  function later() {
    if (video.preload === 'none') { video.preload = 'metadata'; }   // starts the deferred load
    if (subsOn) { loadCues(); }
  }
  function afterLoad() { setTimeout(later, 0); }
  if (document.readyState === 'complete') { afterLoad(); } else { window.addEventListener('load', afterLoad, false); }
  draw();
  placeSubs();
}(window, document));
