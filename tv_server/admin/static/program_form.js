/* The program form: ask before leaving with unsaved edits, and 插入图片 — upload a picture and
   put its Markdown at the cursor. Without this script the form still works (pictures are then
   uploaded with the form and referred to as the side panel shows). */
(function () {
  'use strict';
  var form = document.getElementById('program-form');
  if (!form) { return; }
  var body = document.getElementById('program-body');

  // Unsaved edits: a prompt when leaving the page; none when the form itself is sent.
  var dirty = false;
  function touched() { dirty = true; }
  form.addEventListener('input', touched);
  form.addEventListener('change', touched);
  form.addEventListener('submit', function () { dirty = false; });
  window.addEventListener('beforeunload', function (event) {
    if (!dirty) { return undefined; }
    var message = form.getAttribute('data-dirty-guard') || '';
    event.preventDefault();
    event.returnValue = message;
    return message;
  });

  var button = document.getElementById('insert-image');
  var chooser = document.getElementById('insert-image-file');
  var problem = document.getElementById('insert-image-error');
  if (!button || !chooser || !body) { return; }
  button.hidden = false;

  function insertAtCursor(text) {
    var start = body.selectionStart || 0;
    var end = body.selectionEnd || start;
    var before = body.value.slice(0, start);
    var after = body.value.slice(end);
    var lead = before && before.slice(-1) !== '\n' ? '\n\n' : '';
    var tail = after && after.charAt(0) !== '\n' ? '\n\n' : '';
    body.value = before + lead + text + tail + after;
    var alt = before.length + lead.length + 2;  // select the description to type over it
    body.focus();
    body.setSelectionRange(alt, alt + text.indexOf(']') - 2);
    touched();
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  button.addEventListener('click', function () { chooser.click(); });
  chooser.addEventListener('change', function () {
    var file = chooser.files && chooser.files[0];
    if (!file) { return; }
    var data = new FormData();
    data.append('csrf_token', form.querySelector('input[name=csrf_token]').value);
    data.append('image', file);
    button.disabled = true;
    showProblem('');
    var request = new XMLHttpRequest();
    request.open('POST', button.getAttribute('data-url'));
    request.onload = function () {
      button.disabled = false;
      chooser.value = '';
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
      if (request.status !== 200 || !answer || !answer.token) {
        showProblem(answer && answer.error ? answer.error.message : String(request.status));
        return;
      }
      var hidden = document.createElement('input');
      hidden.type = 'hidden';
      hidden.name = 'staged_images';
      hidden.value = answer.token;
      document.getElementById('staged-images').appendChild(hidden);
      var list = document.getElementById('new-images');
      if (list) {
        var row = document.createElement('div');
        row.className = 'image-row';
        if (answer.url) {
          var img = document.createElement('img');
          img.src = answer.url;
          img.alt = answer.path;
          row.appendChild(img);
        }
        var code = document.createElement('code');
        code.appendChild(document.createTextNode(answer.markdown));
        row.appendChild(code);
        list.appendChild(row);
      }
      insertAtCursor(answer.markdown);
    };
    request.onerror = function () {
      button.disabled = false;
      showProblem(String(request.status || 'network'));
    };
    request.send(data);
  });
})();
