// Keyboard for the answer card: 1-4 pick an option before answering a multiple choice
// and change the rating after answering, Space reveals a
// free-text model answer, Enter submits (or goes to the next card after feedback).
// Everything here is a shortcut for a button that works without JavaScript.
(function () {
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio" && target.type !== "checkbox");
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var card = document.getElementById("card");
    if (!card) return;
    var rerate = card.querySelector("form.rerate");
    if (rerate && /^[1-4]$/.test(event.key) && !typing(event.target)) {
      var button = rerate.querySelector('button[data-key="' + event.key + '"]');
      if (button) { event.preventDefault(); button.click(); }
      return;
    }
    // Before answering, 1-9 pick the option with that number (toggle for "all that apply").
    if (!rerate && /^[1-9]$/.test(event.key) && !typing(event.target)) {
      var option = card.querySelector('input[data-option-key="' + event.key + '"]');
      if (option) {
        event.preventDefault();
        option.checked = option.type === "checkbox" ? !option.checked : true;
        option.focus();
      }
      return;
    }
    // Enter in a text box already submits its form; on a button or link it already acts.
    if (event.key === "Enter" && !typing(event.target) && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
      var next = card.querySelector("[data-next]");
      if (next) { event.preventDefault(); window.location.href = next.href; return; }
      var form = card.querySelector("form.answer");
      if (form && event.target.tagName !== "TEXTAREA") {
        event.preventDefault();
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
      return;
    }
    if (event.key === " " && !typing(event.target) && event.target.tagName !== "BUTTON") {
      var reveal = card.querySelector("[data-reveal]");
      if (reveal) { event.preventDefault(); reveal.click(); }
    }
  });
  // After an htmx swap, put the focus on the new card so the keys keep working.
  document.addEventListener("htmx:afterSwap", function (event) {
    var card = document.getElementById("card");
    if (!card) return;
    var target = card.querySelector("[data-next]") || card.querySelector("input:not([type=hidden]), textarea");
    if (target && !target.readOnly) target.focus();
  });
})();
