// Renders $...$ and $$...$$ with the vendored KaTeX, on load and after each htmx swap.
(function () {
  function renderMath(root) {
    if (typeof renderMathInElement !== "function") return;
    renderMathInElement(root, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "$", right: "$", display: false },
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
      throwOnError: false,
    });
  }
  document.addEventListener("DOMContentLoaded", function () { renderMath(document.body); });
  document.addEventListener("htmx:afterSwap", function (event) { renderMath(event.target); });
  window.renderMath = renderMath;
})();
