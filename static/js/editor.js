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
      // Its theme goes into a <style> element, which the page's CSP admits by this nonce.
      CM.EditorView.cspNonce.of(textarea.dataset.styleNonce || ""),
      CM.basicSetup,
      CM.python(),
      CM.lintGutter(),
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

  // The line the last verdict's error points at, marked in the gutter and underlined.
  function markErrorLine() {
    var body = document.getElementById("verdict-body");
    var line = body ? parseInt(body.dataset.errorLine || "", 10) : NaN;
    var marks = [];
    if (body && body.dataset.final === "1" && line >= 1 && line <= view.state.doc.lines) {
      var at = view.state.doc.line(line);
      marks.push({ from: at.from, to: at.to, severity: "error",
                   message: "The error of your last run points at this line (see the verdict)." });
    }
    view.dispatch(CM.setDiagnostics(view.state, marks));
  }
  markErrorLine();
  document.body.addEventListener("htmx:afterSwap", markErrorLine);

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

// Submit and Run stay disabled while this learner's submission is queued or running, so
// one click cannot queue a second grading; they come back with the verdict.
(function () {
  var form = document.querySelector("form.exercise-editor");
  if (!form) return;
  var buttons = form.querySelectorAll('button[name="kind"]');
  var note = document.getElementById("pending-note");

  function setPending(pending) {
    buttons.forEach(function (b) { b.disabled = pending; });
    if (note) note.hidden = !pending;
  }
  function sync() {
    var body = document.getElementById("verdict-body");
    setPending(Boolean(body && body.dataset.final === "0"));
  }
  sync();
  form.addEventListener("htmx:beforeRequest", function (event) {
    // The scratch console's runs are not gradings: they leave Submit and Run alone.
    if (event.target.closest && event.target.closest("#scratch")) return;
    setPending(true);
  });
  document.body.addEventListener("htmx:afterSwap", sync);
  document.body.addEventListener("htmx:responseError", function () { setPending(false); });
  document.body.addEventListener("htmx:sendError", function () { setPending(false); });
})();
