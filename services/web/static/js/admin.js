// The admin pages' charts: one daily series per metric (data on the canvas: no inline script).
(function () {
  "use strict";
  function draw() {
    if (typeof Chart === "undefined") return;
    document.querySelectorAll("canvas.series-chart-canvas").forEach(function (canvas) {
      var series = JSON.parse(canvas.dataset.series);
      new Chart(canvas, {
        type: "line",
        data: {
          labels: series.points.map(function (p) { return p.at; }),
          datasets: [{
            label: series.name,
            data: series.points.map(function (p) { return p.value; }),
            borderColor: "#1d4ed8",
            backgroundColor: "#1d4ed8"
          }]
        },
        options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } } }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
