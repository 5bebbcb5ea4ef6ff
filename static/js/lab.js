// Draws the lab's curves with the vendored Chart.js, from the JSON the panel carries.
(function () {
  function draw() {
    var source = document.getElementById("lab-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var colours = { plain: "#c0392b", residual: "#2471a3" };
    function sets(key) {
      return data.networks.filter(function (n) { return !n.error; }).map(function (n) {
        return { label: n.kind + " " + n.layers, data: n[key], borderColor: colours[n.kind],
                 borderDash: n.layers === Math.max.apply(null, data.networks.map(function (m) { return m.layers; })) ? [] : [6, 4],
                 pointRadius: 0, fill: false };
      });
    }
    [["lab-loss", "train_loss", "training loss (every few steps)"],
     ["lab-grads", "grad_norms", "gradient norm per block at initialisation"]].forEach(function (c) {
      var canvas = document.getElementById(c[0]);
      if (!canvas || canvas.dataset.drawn) return;
      canvas.dataset.drawn = "1";
      var longest = Math.max.apply(null, data.networks.map(function (n) { return (n[c[1]] || []).length; }));
      new Chart(canvas, { type: "line",
        data: { labels: Array.from({ length: longest }, function (_, i) { return i + 1; }), datasets: sets(c[1]) },
        options: { animation: false, plugins: { title: { display: true, text: c[2] } },
                   scales: { y: { type: c[1] === "grad_norms" ? "logarithmic" : "linear" } } } });
    });
  }
  draw();
  document.body.addEventListener("htmx:afterSwap", draw);
})();
