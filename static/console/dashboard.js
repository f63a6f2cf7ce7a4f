// Draws the dashboard charts with Chart.js (static/vendor/, installed from npm by `make install`).
// Without it the page still shows the summary and the data table.
(function () {
  "use strict";
  var charts = [];

  var SPECS = {
    requests: [["requests", "Requests"], ["errors", "Errors"]],
    latency: [["p50", "p50"], ["p95", "p95"]],
    tokens: [["input_tokens", "Input"], ["output_tokens", "Output"]],
    cost: [["cost_usd", "Cost USD"]],
    cache: [["cache_hit_rate", "Cache hit %"]]
  };

  function draw() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var source = document.getElementById("dashboard-data");
    if (!source || typeof window.Chart === "undefined") return;
    var points = JSON.parse(source.textContent);
    var labels = points.map(function (p) { return new Date(p.t).toLocaleString(); });
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = SPECS[canvas.getAttribute("data-chart")] || [];
      charts.push(new window.Chart(canvas, {
        type: "line",
        data: {
          labels: labels,
          datasets: spec.map(function (s) {
            return { label: s[1], data: points.map(function (p) { return p[s[0]]; }), spanGaps: true, tension: 0.2 };
          })
        },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } }
      }));
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
