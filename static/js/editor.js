// The exercise editor: CodeMirror 6 over the form's textarea, which stays the field that
// is posted (and the editor when JavaScript is off). Every change is copied into the
// textarea and saved in localStorage, so a reload keeps the code as typed.
(function () {
  var textarea = document.getElementById("code");
  if (!textarea || typeof CM === "undefined") return;
  var key = textarea.dataset.storageKey;
  var note = document.getElementById("editor-note");

  function load() {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function save(text) {
    try { window.localStorage.setItem(key, text); } catch (e) { /* private mode: keep going */ }
  }

  var saved = load();
  if (saved !== null && saved !== textarea.value) {
    textarea.value = saved;
    if (note) note.textContent = "Restored the code you were typing.";
  }

  var view = new CM.EditorView({
    doc: textarea.value,
    extensions: [
      CM.basicSetup,
      CM.python(),
      CM.keymap.of([CM.indentWithTab]),
      CM.EditorView.contentAttributes.of({ "aria-label": "Your code", "aria-describedby": "editor-help" }),
      CM.EditorView.updateListener.of(function (update) {
        if (!update.docChanged) return;
        var text = update.state.doc.toString();
        textarea.value = text;
        save(text);
      }),
    ],
  });
  textarea.parentNode.insertBefore(view.dom, textarea);
  textarea.hidden = true; // still posted: hidden fields are submitted, disabled ones are not
  var help = document.createElement("p");
  help.id = "editor-help";
  help.className = "muted";
  help.textContent = "Tab indents; press Esc then Tab to leave the editor.";
  view.dom.parentNode.insertBefore(help, view.dom.nextSibling);
  window.exerciseEditor = view;

  var label = document.querySelector('label[for="code"]');
  if (label) label.addEventListener("click", function () { view.focus(); });

  var reset = document.getElementById("reset-code");
  var starter = document.getElementById("starter-code");
  if (reset && starter) {
    reset.hidden = false;
    reset.addEventListener("click", function () {
      if (!window.confirm("Replace your code with the starter code?")) return;
      var text = JSON.parse(starter.textContent);
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    });
  }
})();
