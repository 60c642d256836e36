/* Program preview: fit the 720p, 1080p and 4K frames to the editor's window.
   Each frame keeps its real pixel size (so the TV stylesheet picks the right layout) and is
   scaled down with a CSS transform; without this script a fixed scale from admin.css applies. */
(function () {
  'use strict';
  var box = document.getElementById('pv-frames');
  if (!box) { return; }
  var figures = box.querySelectorAll('.pv-figure');
  var GAP = 16, MIN_COLUMN = 360;
  var touched = false;

  function fit() {
    var width = box.clientWidth;
    var columns = (width - 2 * GAP) / 3 >= MIN_COLUMN ? 3 : 1;
    var column = Math.floor((width - (columns - 1) * GAP) / columns);
    for (var i = 0; i < figures.length; i++) {
      var frame = figures[i].querySelector('iframe');
      var view = figures[i].querySelector('.pv-viewport');
      var scale = column / frame.width;
      frame.style.transform = 'scale(' + scale + ')';
      view.style.width = column + 'px';
      view.style.height = Math.round(frame.height * scale) + 'px';
      figures[i].style.width = column + 'px';
      figures[i].querySelector('.pv-scale').textContent = Math.round(scale * 100) + '%';
    }
    box.className = box.className.replace(/ ?pv-fitted/, '') + ' pv-fitted';
  }

  // The TV script focuses its first element on load, which pulls the editor's keyboard into
  // whichever frame loads last. Until the editor picks a frame (clicking into it or tabbing),
  // keep the focus on the page; a frame under the mouse pointer counts as picked.
  var hovered = null;
  function keepFocus() {
    var el = document.activeElement;
    if (!touched && el && el.tagName === 'IFRAME' && el !== hovered) {
      document.getElementById('pv-title').focus();
    }
  }
  function later() { setTimeout(keepFocus, 0); setTimeout(keepFocus, 300); }
  function hover(event) { hovered = event.type === 'mouseenter' ? event.currentTarget : null; }
  for (var i = 0; i < figures.length; i++) {
    var frame = figures[i].querySelector('iframe');
    frame.addEventListener('load', later);
    frame.addEventListener('mouseenter', hover);
    frame.addEventListener('mouseleave', hover);
  }
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Tab') { touched = true; }
  });
  window.addEventListener('blur', function () {
    setTimeout(function () {
      var el = document.activeElement;
      if (el && el.tagName === 'IFRAME' && el === hovered) { touched = true; }
      keepFocus();
    }, 0);
  });
  window.addEventListener('resize', fit);
  fit();
  later();
}());
