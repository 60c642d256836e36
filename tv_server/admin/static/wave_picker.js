/* Rollout waves: the target picker on /admin/waves/new and /admin/waves/{id}.
   Adds a search over the region tree (Enter ticks the first match, Down moves into the list)
   and shows the ticked targets as chips with a remove button. Without this script the tree of
   checkboxes and the paste box still work: the server reads the same form fields. */
(function () {
  'use strict';
  var picker = document.getElementById('wv-picker');
  var tree = document.getElementById('wv-tree');
  if (!picker || !tree) { return; }
  var chips = document.getElementById('wv-chips');
  var searchBox = document.getElementById('wv-search-box');
  var search = document.getElementById('wv-search');
  var nothing = document.getElementById('wv-search-none');
  var entries = [];
  var fixed = [];  // chips of codes the tree does not hold (pasted), kept as they are

  function ancestorOf(element, test) {
    var node = element.parentNode;
    while (node && node !== tree) {
      if (test(node)) { return node; }
      node = node.parentNode;
    }
    return null;
  }

  function isNode(element) {
    return element.nodeType === 1 && /(^| )wv-node( |$)/.test(element.className);
  }

  // One entry per checkbox: its region node, the row to hide, the nodes above it.
  var boxes = tree.querySelectorAll('input[type=checkbox]');
  var byNode = [];
  for (var i = 0; i < boxes.length; i++) {
    var node = ancestorOf(boxes[i], isNode);
    var parentNode = ancestorOf(node, isNode);
    var parent = null;
    for (var j = byNode.length - 1; j >= 0; j--) {
      if (byNode[j].node === parentNode) { parent = byNode[j]; break; }
    }
    var entry = {
      box: boxes[i],
      node: node,
      row: ancestorOf(node, function (el) { return el.tagName === 'LI'; }) || node,
      parent: parent,
      name: node.getAttribute('data-name') || '',
      code: boxes[i].value,
      level: (/wv-(county|township|village)/.exec(node.className) || ['', 'village'])[1],
      wasOpen: node.tagName === 'DETAILS' && node.open
    };
    entry.path = parent ? parent.path + ' \u00b7 ' + entry.name : entry.name;
    entry.key = entry.name.toLowerCase();
    entries.push(entry);
    byNode.push(entry);
  }

  var existing = chips.querySelectorAll('li[data-fixed]');
  for (var k = 0; k < existing.length; k++) { fixed.push(existing[k]); }

  function levelLabel(level) {
    return picker.getAttribute('data-level-' + level) || '';
  }

  function covered(entry) {
    for (var p = entry.parent; p; p = p.parent) {
      if (p.box.checked) { return true; }
    }
    return false;
  }

  function chip(entry) {
    var li = document.createElement('li');
    li.className = 'wv-chip';
    li.setAttribute('data-code', entry.code);
    var level = document.createElement('span');
    level.className = 'wv-level';
    level.appendChild(document.createTextNode(levelLabel(entry.level)));
    li.appendChild(level);
    li.appendChild(document.createTextNode(' ' + entry.path + ' '));
    var code = document.createElement('code');
    code.appendChild(document.createTextNode(entry.code));
    li.appendChild(code);
    var remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'wv-remove';
    remove.setAttribute('aria-label', picker.getAttribute('data-remove') + ' ' + entry.path);
    remove.appendChild(document.createTextNode('\u00d7'));
    remove.onclick = function () {
      var next = li.nextSibling;
      entry.box.checked = false;
      render();
      var target = next && chips.querySelector('li[data-code="' + next.getAttribute('data-code') + '"] button');
      (target || search).focus();
    };
    li.appendChild(remove);
    return li;
  }

  // Checkboxes of the picker outside the tree (the whole city on the program form).
  var extras = picker.querySelectorAll('input.wv-extra');

  function extraChip(box) {
    var li = document.createElement('li');
    li.className = 'wv-chip';
    li.setAttribute('data-code', box.value);
    li.appendChild(document.createTextNode(box.getAttribute('data-name') + ' '));
    var remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'wv-remove';
    remove.setAttribute('aria-label', picker.getAttribute('data-remove') + ' ' + box.getAttribute('data-name'));
    remove.appendChild(document.createTextNode('\u00d7'));
    remove.onclick = function () { box.checked = false; render(); box.focus(); };
    li.appendChild(remove);
    return li;
  }

  function render() {
    while (chips.firstChild) { chips.removeChild(chips.firstChild); }
    var count = 0;
    for (var x = 0; x < extras.length; x++) {
      if (extras[x].checked) { chips.appendChild(extraChip(extras[x])); count++; }
    }
    for (var i = 0; i < entries.length; i++) {
      var entry = entries[i];
      var inside = covered(entry);
      entry.node.className = entry.node.className.replace(/ wv-covered/g, '') + (inside ? ' wv-covered' : '');
      if (entry.box.checked) {
        chips.appendChild(chip(entry));
        count++;
      }
    }
    for (var f = 0; f < fixed.length; f++) {
      chips.appendChild(fixed[f]);
      count++;
    }
    if (!count) {
      var none = document.createElement('li');
      none.className = 'wv-none muted';
      none.appendChild(document.createTextNode(picker.getAttribute('data-empty')));
      chips.appendChild(none);
    }
  }

  // Show the matches, the regions above them (opened) and below them; hide the rest.
  function filter(query) {
    query = query.replace(/^\s+|\s+$/g, '').toLowerCase();
    var first = null;
    var i, entry, p;
    for (i = 0; i < entries.length; i++) {
      entry = entries[i];
      entry.hit = !!query && (entry.key.indexOf(query) >= 0 || entry.code.indexOf(query) === 0);
      entry.below = !!query && !!entry.parent && (entry.parent.hit || entry.parent.below);
      entry.above = false;
    }
    for (i = 0; i < entries.length; i++) {
      entry = entries[i];
      if (!entry.hit) { continue; }
      if (!first) { first = entry; }
      for (p = entry.parent; p; p = p.parent) { p.above = true; }
    }
    for (i = 0; i < entries.length; i++) {
      entry = entries[i];
      entry.row.hidden = !!query && !(entry.hit || entry.below || entry.above);
      if (entry.node.tagName === 'DETAILS') {
        entry.node.open = query ? entry.above : (entry.wasOpen || hasChecked(entry));
      }
    }
    nothing.hidden = !query || !!first;
    return first;
  }

  function hasChecked(entry) {
    return entry.node.querySelector('ul input:checked') !== null;
  }

  function firstVisibleBox() {
    for (var i = 0; i < entries.length; i++) {
      if (!entries[i].row.hidden && entries[i].box.offsetParent !== null) { return entries[i].box; }
    }
    return null;
  }

  tree.addEventListener('change', render);
  for (var e = 0; e < extras.length; e++) { extras[e].addEventListener('change', render); }
  search.addEventListener('input', function () { filter(search.value); });
  search.addEventListener('keydown', function (event) {
    var key = event.key || event.keyCode;
    if (key === 'Enter' || key === 13) {
      event.preventDefault();  // never submit the wave form from the search field
      var first = filter(search.value);
      if (first && !first.box.checked) {
        first.box.checked = true;
        render();
      }
      search.select();
    } else if (key === 'ArrowDown' || key === 40) {
      var box = firstVisibleBox();
      if (box) { event.preventDefault(); box.focus(); }
    } else if (key === 'Escape' || key === 27) {
      search.value = '';
      filter('');
    }
  });
  searchBox.hidden = false;
  render();
})();
