// One question at a time: the map's buttons and Previous/Next switch the question in place
// (without them, each is a submit that saves and reloads on that question). Every question
// stays in the form, hidden, so autosave, drafts and the clock's submit carry all answers.
(function () {
  "use strict";
  var map = document.getElementById("question-map");
  if (!map) return;
  var form = document.getElementById("mock-form");
  var save = document.getElementById("mock-save");
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.mock-step[data-q]"));

  function show(q) {
    sections.forEach(function (section) { section.hidden = section.dataset.q !== String(q); });
    map.querySelectorAll("button[data-q]").forEach(function (button) {
      if (button.dataset.q === String(q)) button.setAttribute("aria-current", "step");
      else button.removeAttribute("aria-current");
    });
    var url = new URL(window.location.href);
    url.searchParams.set("view", "one");
    url.searchParams.set("q", String(q));
    window.history.replaceState(null, "", url.pathname + url.search);
    if (save) {
      var action = new URL(save.getAttribute("formaction"), window.location.href);
      action.searchParams.set("q", String(q));
      save.setAttribute("formaction", action.pathname + action.search);
    }
    var current = sections.filter(function (s) { return !s.hidden; })[0];
    var heading = current && current.querySelector("h2");
    if (heading) heading.focus();
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-q]");
    if (!button) return;
    event.preventDefault();
    show(Number(button.dataset.q));
  });

  // The map marks a question answered as soon as its box has text.
  form.addEventListener("input", function (event) {
    var section = event.target.closest("section.mock-step[data-q]");
    if (!section) return;
    var box = map.querySelector('button[data-q="' + section.dataset.q + '"]');
    if (!box) return;
    var answered = event.target.value.trim() !== "";
    box.classList.toggle("answered", answered);
    box.setAttribute("aria-label", "Question " + section.dataset.q + (answered ? ", answered" : ""));
  });
})();
