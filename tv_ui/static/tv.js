/* LegalTV remote control of every TV screen; strict ES5 for old set-top-box WebKit.
 * Only enhances: pages work as plain links and forms without it.
 * Contract and rules: docs/keymaps.md. Key maps: tv_ui/keymaps.py via body[data-keymap].
 */
(function (window, document) {
  'use strict';

  var GAP_MS = 80;   // at most one movement per GAP_MS; a held key never queues work
  var REPEAT_MS = 200;    // a non-movement key held down acts once
  var MOVES = { up: 1, down: 1, left: 1, right: 1, pageup: 1, pagedown: 1 };
  var body, keymap = {}, last = null, leaving = false;
  var lastRun = 0, pending = null, timer = null, held = {}, ann = null, dismissed = {};
  var LTV = window.LTV = { lastKey: null, moves: 0 };

  function attr(el, name) { return el ? el.getAttribute(name) : null; }
  function byId(id) { return id ? document.getElementById(id) : null; }
  function first(sel) { return document.querySelector(sel); }
  function on(target, type, fn, capture) { target.addEventListener(type, fn, !!capture); }
  function hasClass(el, c) {
    return el.classList ? el.classList.contains(c) : (' ' + el.className + ' ').indexOf(' ' + c + ' ') > -1;
  }
  function tag(el) { return el.tagName.toLowerCase(); }
  function go(url, replace) {
    if (!url) { return; }
    leaving = true;
    if (replace) { location.replace(url); } else { location.href = url; }
  }

  /* ---- Focus: always real DOM focus on a visible, enabled `.f` element, never on body ---- */

  function box(el) {
    if (!el || el.disabled || !hasClass(el, 'f')) { return null; }
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? r : null;
  }
  function focusables() { return document.querySelectorAll('.f'); }
  function initial() {
    var el = byId(location.hash.slice(1));
    if (!box(el)) { el = first('.f[data-initial]'); }
    if (!box(el)) {
      var all = focusables();
      for (var i = 0; i < all.length && !box(el); i++) { el = all[i]; }
    }
    return box(el) ? el : null;
  }
  function focus(el) {
    if (!el) { return false; }
    el.focus({ preventScroll: true });   // old WebKit ignores the argument
    last = el;
    var r = el.getBoundingClientRect(), m = byId('main'),
      b = m && m.contains(el) ? m.getBoundingClientRect() : { top: 0, bottom: innerHeight };
    if (r.top < b.top - 1 || r.bottom > b.bottom + 1) { el.scrollIntoView(r.top < b.top); }   // out of #main's view
    return true;
  }
  function lost() {
    var a = document.activeElement;
    return !a || a === body || a === document.documentElement;
  }
  function ensureFocus() {
    // Only while this document has the focus: in the editors' preview frames a blur means
    // the editor moved elsewhere, and taking the focus back would fight the other frames.
    if (lost() && !leaving && document.hasFocus()) { focus(box(last) ? last : initial()); }
  }

  /* ---- Arrows: the best geometric neighbour; rectangles measured once per press ---- */

  // along: gap from the current element's edge to the candidate's near edge (0 if overlapping);
  // across: gap between the two rectangles on the other axis (0 if they overlap).
  function neighbour(cur, dir) {
    var c = cur.getBoundingClientRect(), all = focusables(), best = null, bs = null;
    var vertical = dir === 'up' || dir === 'down', sign = dir === 'down' || dir === 'right' ? 1 : -1;
    var a0 = vertical ? 'top' : 'left', a1 = vertical ? 'bottom' : 'right';
    var b0 = vertical ? 'left' : 'top', b1 = vertical ? 'right' : 'bottom';
    for (var i = 0; i < all.length; i++) {
      var el = all[i], r = el === cur ? null : box(el);
      if (!r) { continue; }
      // half-plane: the candidate's centre lies beyond the current element's edge
      var mid = (r[a0] + r[a1]) / 2;
      if (sign > 0 ? mid < c[a1] : mid > c[a0]) { continue; }
      var along = Math.max(0, sign > 0 ? r[a0] - c[a1] : c[a0] - r[a1]);
      var overlap = Math.min(r[b1], c[b1]) - Math.max(r[b0], c[b0]);
      var s = [along + 2 * Math.max(0, -overlap), -overlap, r.top, r.left];
      if (!bs || better(s, bs)) { best = el; bs = s; }   // DOM order wins remaining ties
    }
    return best;
  }
  // score, then the wider overlap across, then nearer the top, then nearer the left
  function better(s, t) {
    for (var i = 0; i < s.length; i++) { if (s[i] !== t[i]) { return s[i] < t[i]; } }
    return false;
  }
  function move(dir) {
    // Reader page (body[data-pager]): Left/Right turn the page, Up/Down scroll a long one.
    if (body.hasAttribute('data-pager') && (dir === 'left' || dir === 'right')) {
      return page(dir === 'left' ? 'prev' : 'next');
    }
    if (body.hasAttribute('data-pager') && (dir === 'up' || dir === 'down') && scroll(dir)) {
      return true;
    }
    var cur = lost() ? null : document.activeElement;
    if (!cur || !box(cur)) { return focus(initial()); }
    var to = byId(attr(cur, 'data-' + dir));   // leave-for override: data-left="ID" ...
    if (!box(to)) { to = neighbour(cur, dir); }
    if (to) { LTV.moves++; return focus(to); }
  }

  /* ---- A reader page taller than its box scrolls; #more shows while text lies below ---- */

  // [scroll, client, full] sizes: vertical (Mongolian) text scrolls on to the right.
  function ax() {
    return document.documentElement.lang === 'mn' ? ['scrollLeft', 'clientWidth', 'scrollWidth']
      : ['scrollTop', 'clientHeight', 'scrollHeight'];
  }
  function scroll(dir) {   // two lines of overlap: no line is skipped
    var s = first('[data-scroll]'), k = ax(), at = s && s[k[0]], max = s && s[k[2]] - s[k[1]];
    if (!s || (dir === 'down' ? at >= max - 1 : at <= 0)) { return false; }
    s[k[0]] = at + (dir === 'down' ? 1 : -1) * Math.max(40, s[k[1]] - 100);
    more();
    return true;
  }
  function more() {
    var s = first('[data-scroll]'), m = byId('more'), k = ax();
    if (s && m) { m.className = s[k[0]] + s[k[1]] < s[k[2]] - 1 ? 'more' : 'more hidden'; }
  }
  function page(rel) {
    var a = first('a[rel=' + rel + ']');
    if (a && a.href) { go(a.href, true); }   // replace: paging does not fill history
  }

  /* ---- OK, Back, Home: activate once; remember the focused id for the way back ---- */

  function remember(el) {
    if (el && el.id && window.history.replaceState) {
      history.replaceState(null, '', location.pathname + location.search + '#' + el.id);
    }
  }
  function activate(el) {
    if (!el || lost()) { return; }
    if (tag(el) === 'video') {
      if (el.paused) { el.play(); } else { el.pause(); }
    } else if (tag(el) === 'input' && el.form) {
      var btn = submitOf(el);
      if (btn) { btn.click(); } else { remember(el); leaving = true; el.form.submit(); }
    } else if (el.click) {
      el.click();   // the key's own default action is prevented: exactly one activation
    } else if (el.href) {
      remember(el);
      go(el.href);
    }
  }
  function back() {
    var url = attr(body, 'data-back'), origin = location.protocol + '//' + location.host;
    if (body.hasAttribute('data-back-force') && url) { go(url, true); }
    else if (history.length > 1 && document.referrer.indexOf(origin + '/') === 0) {
      leaving = true;
      history.back();
    } else { go(url); }
  }
  function colour(name) {
    var el = first('[data-color=' + name + ']');
    if (el) { activate(el); }
  }

  /* ---- Number keys and the on-screen keypad fill an input[data-digits] ---- */

  function digitsInput(el) {
    if (el && el.hasAttribute('data-digits')) { return el; }
    var t = attr(el, 'data-target'), f = el && el.form;
    return byId(t) || (t && f && f.elements[t]) || (f && f.querySelector('input[data-digits]')) ||
      first('input[data-digits]');
  }
  function complete(input) {   // then the focus moves to submit
    var v = input.value;
    return /^1\d{10}$/.test(v) || v.length >= parseInt(attr(input, 'maxlength'), 10);
  }
  function submitOf(input) { return input.form && input.form.querySelector('[type=submit]:not([data-key])'); }
  function edit(input, key) {
    if (!input) { return; }
    var v = input.value, max = parseInt(attr(input, 'maxlength'), 10);
    if (key === 'del') { v = v.slice(0, -1); }
    else if (key === 'clr') { v = ''; }
    else if (/^[0-9]$/.test(key) && !(max >= 0 && v.length >= max)) { v += key; }
    input.value = v;
  }

  /* ---- Announcements: a banner or overlay in #ann that never takes focus ---- */

  function annEl() {
    var el = byId('ann');
    if (!el) {
      el = document.createElement('div');
      el.id = 'ann';
      el.setAttribute('role', 'status');
      body.appendChild(el);
    }
    return el;
  }
  function show(a) {
    if (!a || !a.text || dismissed[a.id]) { return; }
    var el = annEl(), im;
    ann = a.id;
    el.setAttribute('data-id', a.id);
    if (hasClass(el, 'ann')) { el.className = 'ann ann-' + (a.level || 'info') + (a.overlay ? ' overlay' : ''); }
    el.textContent = a.text;
    if (a.image) {
      im = document.createElement('img');
      im.src = a.image;
      im.alt = '';
      el.insertBefore(im, el.firstChild);
    }
    el.setAttribute('data-level', a.level || 'info');
    el.removeAttribute('hidden');
    el.style.display = '';
    ensureFocus();
  }
  function hide(id) {
    var el = byId('ann');
    if (el && (id == null || id === ann)) {
      el.setAttribute('hidden', '');
      el.style.display = 'none';
      ann = null;
      ensureFocus();
    }
  }
  function overlayOpen() {
    var el = byId('ann');
    return el && hasClass(el, 'overlay') && !el.hasAttribute('hidden');
  }
  function parse(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }
  function listen() {
    var url = attr(body, 'data-events'), poll = attr(body, 'data-ann-poll');
    if (window.EventSource && url) {
      var es = new window.EventSource(url);
      on(es, 'announcement', function (e) { show(parse(e.data)); });
      on(es, 'clear', function (e) { var d = parse(e.data); hide(d && d.id != null ? d.id : null); });
      // New programs were published: a screen that lists them reloads, keeping focus.
      on(es, 'refresh', function () { if (body.hasAttribute('data-refresh')) { location.reload(); } });
    } else if (poll) {
      var fetchAnn = function () {
        var x = new XMLHttpRequest();
        x.onreadystatechange = function () {
          if (x.readyState !== 4 || x.status !== 200) { return; }
          var d = parse(x.responseText), list = (d && d.announcements) || [];
          if (list.length) { show(list[0]); } else { hide(null); }
        };
        x.open('GET', poll, true);
        x.send();
      };
      fetchAnn();
      setInterval(fetchAnn, 60000);
    }
  }

  /* ---- Keys: map the code, prevent the default, throttle movement ---- */

  function run(action) {
    var el = document.activeElement;
    if (LTV.onKey && LTV.onKey(action, el)) { ensureFocus(); return; }   // the video player
    if (MOVES[action]) {
      if (action === 'pageup' || action === 'pagedown') { page(action === 'pageup' ? 'prev' : 'next'); }
      else { move(action); }
    } else if ((action === 'ok' || action === 'back') && overlayOpen()) {
      ann = attr(byId('ann'), 'data-id');
      dismissed[ann] = 1;   // polling or a reconnect will not bring it back
      if (ann && attr(body, 'data-ann-poll')) {   // later screens show it as a banner
        var x = new XMLHttpRequest();
        x.open('GET', attr(body, 'data-ann-poll') + '?ok=' + ann, true);
        x.send();
      }
      hide(null);
    } else if (action === 'ok') {
      activate(el);
    } else if (action === 'back') {
      back();
    } else if (action === 'home' || action === 'exit') {
      go((action === 'exit' && attr(body, 'data-exit')) || attr(body, 'data-home') || '/tv/');
    } else if (/^[0-9]$/.test(action)) {
      // focus the field: OK there submits, it does not press a keypad key
      el = digitsInput(lost() ? null : el);
      edit(el, action);
      if (box(el)) { focus(el); }
    } else {
      colour(action);
    }
    ensureFocus();
  }
  function flush() {
    timer = null;
    lastRun = new Date().getTime();
    var a = pending;
    pending = null;
    if (a && !leaving) { run(a); }
  }
  function typing() {   // a text input without data-digits types digits itself
    var a = document.activeElement;
    return a && (tag(a) === 'textarea' || (tag(a) === 'input' && !a.hasAttribute('data-digits')));
  }
  function onKey(e) {
    var code = e.keyCode || e.which, action = keymap[code], now = new Date().getTime();
    LTV.lastKey = code;
    if (!action || (/^[0-9]$/.test(action) && typing())) { return; }
    e.preventDefault();   // no scrolling, no Backspace deleting, no second activation
    var repeat = held[code] && now - held[code] < REPEAT_MS;
    held[code] = now;
    if (leaving) { return; }
    if (!MOVES[action]) {
      if (!repeat) { run(action); }
    } else if (now - lastRun >= GAP_MS && !timer) {
      lastRun = now;
      run(action);   // the first press acts within the same event
    } else {
      pending = action;   // last press wins
      if (!timer) { timer = setTimeout(flush, Math.max(0, GAP_MS - (now - lastRun))); }
    }
  }
  function onClick(e) {
    var el = e.target;
    while (el && el.getAttribute && !hasClass(el, 'f')) { el = el.parentNode; }
    if (!el || !el.getAttribute) { return; }
    var key = attr(el, 'data-key'), href = attr(el, 'href') || '';
    if (key && el.form) {   // keypad button: edit here instead of submitting
      e.preventDefault();
      var input = digitsInput(el);
      edit(input, key);
      focus(input && complete(input) && submitOf(input) || el);
      return;
    }
    if (!e.defaultPrevented && (href || el.form)) {
      remember(el);
      if (href && href.charAt(0) !== '#' && href.indexOf('javascript:') !== 0) { leaving = true; }
    }
  }

  /* ---- Start ---- */

  function start() {
    body = document.body;
    keymap = parse(attr(body, 'data-keymap')) ||
      { 8: 'back', 13: 'ok', 27: 'back', 37: 'left', 38: 'up', 39: 'right', 40: 'down', 461: 'back' };
    on(document, 'keydown', onKey);
    on(document, 'keyup', function (e) { held[e.keyCode || e.which] = 0; });
    on(document, 'click', onClick);
    on(document, 'submit', function () { leaving = true; });
    on(document, 'focus', function (e) { if (box(e.target)) { last = e.target; } }, true);
    on(document, 'blur', function () { setTimeout(ensureFocus, 0); }, true);
    on(window, 'pageshow', function (e) {
      if (e.persisted) { leaving = false; pending = null; focus(initial()); }
    });
    focus(initial());
    more();
    on(window, 'load', more);
    listen();
  }

  if (document.readyState === 'loading') { on(document, 'DOMContentLoaded', start); } else { start(); }
}(window, document));
