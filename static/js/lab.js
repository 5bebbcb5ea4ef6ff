// Draws the lab's curves with the vendored Chart.js, from the JSON the page carries (the
// lab panel, or the paper discussion's figure in a mock interview): the
// finished result, or while the lab runs the partial curves so far (the panel is fetched
// again by htmx, backing off, and each fetch redraws).
(function () {
  function draw() {
    var source = document.getElementById("lab-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var colours = { plain: "#c0392b", residual: "#2471a3" };
    var deepest = Math.max.apply(null, data.networks.map(function (m) { return m.layers; }));
    function sets(key) {
      return data.networks.filter(function (n) { return !n.error && n.state !== "failed"; }).map(function (n) {
        return { label: n.kind + " " + n.layers, data: n[key], borderColor: colours[n.kind],
                 borderDash: n.layers === deepest ? [] : [6, 4], pointRadius: 0, fill: false };
      });
    }
    [["lab-loss", "train_loss", data.points ? "training loss so far" : "training loss (every few steps)"],
     ["lab-error", "train_error", "training error (every few steps)"],
     ["lab-grads", "grad_norms", "gradient norm per block at initialisation"]].forEach(function (c) {
      var canvas = document.getElementById(c[0]);
      if (!canvas || canvas.dataset.drawn) return;
      canvas.dataset.drawn = "1";
      var longest = Math.max.apply(null, data.networks.map(function (n) { return (n[c[1]] || []).length; }));
      // While running, the loss axis spans the whole budget, so the curves grow along it.
      if (c[1] === "train_loss" && data.points) longest = Math.max(longest, data.points);
      new Chart(canvas, { type: "line",
        data: { labels: Array.from({ length: longest }, function (_, i) { return i + 1; }), datasets: sets(c[1]) },
        options: { animation: false, plugins: { title: { display: true, text: c[2] } },
                   scales: { y: { type: c[1] === "grad_norms" ? "logarithmic" : "linear" } } } });
    });
  }
  // A swapped-out panel takes its charts with it: free them first, and leave nothing on
  // the old canvases for htmx to carry over to the new ones.
  function release(event) {
    var panel = document.getElementById("lab-panel");
    var target = event.detail && event.detail.target;
    if (!panel || !target || !target.contains(panel)) return;
    panel.querySelectorAll("canvas").forEach(function (canvas) {
      var chart = Chart.getChart(canvas);
      if (chart) chart.destroy();
      // htmx first copies the old element's attributes onto its namesake in the new
      // panel; a copied style attribute is inline style, which the CSP refuses.
      canvas.removeAttribute("style");
      delete canvas.dataset.drawn;
    });
  }
  draw();
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (typeof Chart !== "undefined") release(event);
  });
  document.body.addEventListener("htmx:afterSwap", draw);
  document.body.addEventListener("htmx:afterSettle", draw);
})();
