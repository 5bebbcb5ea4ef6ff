// Keyboard for the answer card, as in Anki: Space shows the answer (any kind, without
// typing), then 1-4 rate it; before answering a multiple choice 1-4 pick an option; after
// feedback 1-4 change the rating. Enter submits (or goes to the next card after feedback),
// Ctrl+Enter submits from inside a text box, Esc leaves a text box, S skips a practice card.
// Everything here is a shortcut for a button or link that works without JavaScript.
(function () {
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio" && target.type !== "checkbox");
  }
  function submit(form) {
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  document.addEventListener("keydown", function (event) {
    var card = document.getElementById("card");
    if (!card) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && card.contains(event.target)) {
      var answerForm = event.target.form || card.querySelector("form.answer");
      if (answerForm) { event.preventDefault(); submit(answerForm); }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) {
      event.preventDefault();
      event.target.blur();
      card.focus();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var rerate = card.querySelector("form.rerate");
    if (rerate && /^[1-4]$/.test(event.key) && !typing(event.target)) {
      var button = rerate.querySelector('button[data-key="' + event.key + '"]');
      if (button) { event.preventDefault(); button.click(); }
      return;
    }
    var selfRate = card.querySelector("form.self-rate");
    if (selfRate && /^[1-4]$/.test(event.key) && !typing(event.target)) {
      var rate = selfRate.querySelector('button[data-rate-key="' + event.key + '"]');
      if (rate) { event.preventDefault(); rate.click(); }
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
    if ((event.key === "s" || event.key === "S") && !typing(event.target)) {
      var skip = card.querySelector("[data-skip]");
      if (skip) { event.preventDefault(); window.location.href = skip.href; }
      return;
    }
    // Enter in a text box already submits its form; on a button or link it already acts.
    if (event.key === "Enter" && !typing(event.target) && event.target.tagName !== "BUTTON" && event.target.tagName !== "A") {
      var next = card.querySelector("[data-next]");
      if (next) { event.preventDefault(); window.location.href = next.href; return; }
      var form = card.querySelector("form.answer");
      if (form && event.target.tagName !== "TEXTAREA") {
        event.preventDefault();
        submit(form);
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
    if (target && !target.readOnly) target.focus(); else card.focus();
  });
})();
