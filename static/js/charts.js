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
  // "2026-11-28" -> "11-28": thirty full dates do not fit under a small chart. The
  // learner's today (the server's label for it) reads "Today".
  function short(labels, today) {
    return labels.map(function (l) { return l === today ? "Today" : l.slice(5); });
  }
  // A bounded axis drawn with half a step of room above and below, so that a point at
  // the bound (a rating of 1 or 5, a retention of 100 %) is not cut in half by the edge of
  // the plot; the ticks still run only from `lo` to `hi`.
  function boundedAxis(lo, hi, step) {
    var values = [];
    for (var v = lo; v <= hi; v += step) values.push({ value: v });
    return {
      min: lo - step / 2, max: hi + step / 2,
      afterBuildTicks: function (axis) { axis.ticks = values.slice(); },
    };
  }
  // A date axis that names every fifth day counted from today (`anchor`: the index of
  // today), so that Chart.js's own skipping never drops the "Today" label.
  function dayAxis(anchor) {
    return {
      ticks: {
        autoSkip: false, maxRotation: 0,
        callback: function (value, index) {
          return Math.abs(index - anchor) % 5 === 0 ? this.getLabelForValue(value) : "";
        },
      },
    };
  }
  document.addEventListener("DOMContentLoaded", function () {
    var series = data("review-series");
    if (series) {
      var today = series.labels[series.labels.length - 1];
      chart(document.getElementById("reviews-chart"), {
        type: "bar",
        data: { labels: short(series.labels, today), datasets: [{ label: "Reviews", data: series.reviews, backgroundColor: "#2456c9" }] },
        options: { scales: { x: dayAxis(series.labels.length - 1), y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
      });
      chart(document.getElementById("retention-chart"), {
        type: "line",
        data: { labels: short(series.labels, today), datasets: [{ label: "Retention %", data: series.retention, borderColor: "#1b7f3b", spanGaps: true }] },
        options: { scales: { x: dayAxis(series.labels.length - 1), y: boundedAxis(0, 100, 20) }, plugins: { legend: { display: false } } },
      });
    }
    var forecast = data("review-forecast");
    if (forecast) {
      chart(document.getElementById("forecast-chart"), {
        type: "bar",
        data: { labels: short(forecast.labels, forecast.labels[0]), datasets: [{ label: "Cards due", data: forecast.due, backgroundColor: "#9a6700" }] },
        options: { scales: { x: dayAxis(0), y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
      });
    }
    var mocks = data("mock-history");
    if (mocks) {
      document.querySelectorAll("canvas.mock-chart").forEach(function (canvas) {
        var f = mocks[Number(canvas.dataset.index)];
        chart(canvas, {
          type: "line",
          data: {
            labels: f.labels.map(function (l) { return l.slice(5); }),
            datasets: [
              { label: "Rubric covered %", data: f.covered, borderColor: "#2456c9", spanGaps: true },
              { label: "Answered %", data: f.answered, borderColor: "#9a6700", borderDash: [4, 3], spanGaps: true },
            ],
          },
          options: { scales: { y: boundedAxis(0, 100, 20) }, plugins: { legend: { display: true } } },
        });
      });
    }
    var history = data("skill-history");
    if (history) {
      document.querySelectorAll("canvas.skill-chart").forEach(function (canvas) {
        var s = history.series[Number(canvas.dataset.index)];
        chart(canvas, {
          type: "line",
          data: { labels: history.labels, datasets: [{ label: s.skill, data: s.scores, borderColor: "#2456c9", spanGaps: true, stepped: false }] },
          options: { scales: { y: boundedAxis(1, 5, 1) }, plugins: { legend: { display: false } } },
        });
      });
    }
  });
})();
