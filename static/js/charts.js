// Charts from data the page embeds with json_script (Chart.js, vendored).
(function () {
  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function chart(canvas, config) {
    if (!canvas || typeof Chart !== "function") return;
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
    canvas.parentNode.style.height = (canvas.getAttribute("height") || 180) + "px";
    new Chart(canvas, config);
  }
  // "2026-11-28" -> "11-28": thirty full dates do not fit under a small chart.
  function short(labels) { return labels.map(function (l) { return l.slice(5); }); }
  document.addEventListener("DOMContentLoaded", function () {
    var series = data("review-series");
    if (series) {
      chart(document.getElementById("reviews-chart"), {
        type: "bar",
        data: { labels: short(series.labels), datasets: [{ label: "Reviews", data: series.reviews, backgroundColor: "#2456c9" }] },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
      });
      chart(document.getElementById("retention-chart"), {
        type: "line",
        data: { labels: short(series.labels), datasets: [{ label: "Retention %", data: series.retention, borderColor: "#1b7f3b", spanGaps: true }] },
        options: { scales: { y: { min: 0, max: 100 } }, plugins: { legend: { display: false } } },
      });
    }
    var history = data("skill-history");
    if (history) {
      document.querySelectorAll("canvas.skill-chart").forEach(function (canvas) {
        var s = history.series[Number(canvas.dataset.index)];
        chart(canvas, {
          type: "line",
          data: { labels: history.labels, datasets: [{ label: s.skill, data: s.scores, borderColor: "#2456c9", spanGaps: true, stepped: false }] },
          options: { scales: { y: { min: 1, max: 5, ticks: { stepSize: 1 } } }, plugins: { legend: { display: false } } },
        });
      });
    }
  });
})();
