// Nothing typed is lost. A text box marked data-draft="KEY" keeps what is typed in the
// browser's localStorage as it is typed; after a reload (or a crash) the draft comes back
// into the box. An element data-draft-clear="KEY" on a page means the answer was taken,
// and its draft is dropped. Mock answers (data-autosave-url) are also sent to the server
// as the page unloads, with a keepalive request that outlives the page, so the last
// keystrokes before a reload are saved even inside the autosave's 1.5 s delay.
(function () {
  "use strict";
  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  function restore(root) {
    var ls = store();
    if (!ls) return;
    root.querySelectorAll("[data-draft-clear]").forEach(function (el) {
      ls.removeItem(el.getAttribute("data-draft-clear"));
    });
    root.querySelectorAll("[data-draft]").forEach(function (box) {
      var draft = ls.getItem(box.getAttribute("data-draft"));
      if (draft !== null && draft !== box.value && !box.readOnly) {
        box.value = draft;
        box.setAttribute("data-draft-restored", "");
      }
    });
  }
  document.addEventListener("input", function (event) {
    var box = event.target;
    var ls = store();
    if (!ls || !box.hasAttribute || !box.hasAttribute("data-draft")) return;
    if (box.value) ls.setItem(box.getAttribute("data-draft"), box.value);
    else ls.removeItem(box.getAttribute("data-draft"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    restore(document);
    document.querySelectorAll("[data-autosave-url]").forEach(function (box) {
      box.setAttribute("data-sent", box.getAttribute("data-draft-restored") === null ? box.value : "");
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) { restore(event.target); });
  // The autosave answered: what it sent is on the server.
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = event.detail && event.detail.elt;
    if (box && box.hasAttribute && box.hasAttribute("data-autosave-url") && event.detail.successful) {
      box.setAttribute("data-sent", box.value);
    }
  });
  var submitting = false;
  document.addEventListener("submit", function (event) {
    if (!event.target.querySelector("[data-autosave-url]")) return;
    submitting = true; // the form carries every answer itself
    var ls = store();
    if (ls) event.target.querySelectorAll("[data-draft]").forEach(function (box) {
      ls.removeItem(box.getAttribute("data-draft"));
    });
  });
  window.addEventListener("pagehide", function () {
    if (submitting) return;
    document.querySelectorAll("[data-autosave-url]").forEach(function (box) {
      if (box.value === box.getAttribute("data-sent")) return;
      var body = new URLSearchParams();
      body.append(box.name, box.value);
      var token = box.form && box.form.querySelector("input[name=csrfmiddlewaretoken]");
      if (token) body.append("csrfmiddlewaretoken", token.value);
      try {
        fetch(box.getAttribute("data-autosave-url"), {
          method: "POST", body: body, keepalive: true, credentials: "same-origin",
          headers: { "X-CSRFToken": token ? token.value : "", "HX-Request": "true" },
        });
        box.setAttribute("data-sent", box.value);
      } catch (e) { /* the localStorage draft is still there */ }
    });
  });
})();
