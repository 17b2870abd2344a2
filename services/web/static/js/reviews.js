// Charts of the growth and review-cycle pages (no inline script: the data rides on the canvas).
(function () {
  "use strict";

  function draw(canvas, config) {
    var existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
    new Chart(canvas, config);
  }

  function gapChart(canvas, data) {
    draw(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Expected at the target", data: data.expected, backgroundColor: "#1d4ed8" },
          { label: "Evidence (observed)", data: data.observed, backgroundColor: "#f59e0b" }
        ]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { min: 0, max: 5, ticks: { stepSize: 1 } } }
      }
    });
  }

  function distributionChart(canvas, data) {
    draw(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "Reviews", data: data.counts, backgroundColor: "#1d4ed8" }]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  }

  function drawAll(root) {
    if (typeof Chart === "undefined") return;
    root.querySelectorAll("canvas.gap-chart").forEach(function (canvas) {
      gapChart(canvas, JSON.parse(canvas.dataset.chart));
    });
    root.querySelectorAll("canvas.distribution-chart").forEach(function (canvas) {
      distributionChart(canvas, JSON.parse(canvas.dataset.chart));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
})();
