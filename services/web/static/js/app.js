// Northstar's own script (no inline script anywhere: the pages run under a strict CSP).
(function () {
  "use strict";

  function drawProgressCharts(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas.progress-chart").forEach(function (canvas) {
      // the data rides on the canvas: htmx drops <script> elements from swapped fragments
      if (!canvas.dataset.chart) return;
      var data = JSON.parse(canvas.dataset.chart);
      var existing = Chart.getChart(canvas);
      if (existing) existing.destroy();
      new Chart(canvas, {
        type: "line",
        data: {
          labels: data.points.map(function (p) { return p.at.slice(0, 16).replace("T", " "); }),
          datasets: [{
            label: "Progress (%)",
            data: data.points.map(function (p) { return p.progress; }),
            borderColor: "#1d4ed8",
            backgroundColor: "#1d4ed8",
            pointRadius: data.points.map(function (p) { return p.milestone ? 7 : 3; }),
            pointStyle: data.points.map(function (p) { return p.milestone ? "star" : "circle"; }),
            stepped: true
          }]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                afterLabel: function (ctx) {
                  var p = data.points[ctx.dataIndex];
                  return p.cause + (p.milestone ? " (milestone)" : "");
                }
              }
            }
          }
        }
      });
    });
  }

  function start() {
    if (window.htmx) {
      // runs for the page and for every fragment htmx swaps in (live updates)
      window.htmx.onLoad(drawProgressCharts);
    } else {
      drawProgressCharts(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
