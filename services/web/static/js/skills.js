// The /skills charts (no inline script: the page runs under a strict CSP). The numbers come from
// the page's JSON block; the table next to the charts says the same for screen readers.
(function () {
  "use strict";
  var COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4d7c0f"];

  function draw() {
    if (typeof Chart === "undefined") return;
    var tag = document.querySelector("script.skills-data");
    if (!tag) return;
    var data = JSON.parse(tag.textContent);
    var radar = document.querySelector("canvas.skills-radar");
    if (radar) {
      new Chart(radar, {
        type: "radar",
        data: {
          labels: data.skills,
          datasets: [
            { label: "This period", data: data.latest, borderColor: COLORS[0],
              backgroundColor: "rgba(29, 78, 216, 0.2)", spanGaps: true },
            { label: "Previous period", data: data.previous, borderColor: "#6b7280",
              backgroundColor: "rgba(107, 114, 128, 0.1)", borderDash: [4, 4], spanGaps: true }
          ]
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          scales: { r: { min: 0, max: 5, ticks: { stepSize: 1 } } }
        }
      });
    }
    var quarters = document.querySelector("canvas.skills-quarters");
    if (quarters) {
      new Chart(quarters, {
        type: "line",
        data: {
          labels: data.periods,
          datasets: data.quarters.map(function (q, i) {
            return { label: q.name, data: q.means, borderColor: COLORS[i % COLORS.length],
                     backgroundColor: COLORS[i % COLORS.length], spanGaps: true };
          })
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          scales: { y: { min: 1, max: 5, title: { display: true, text: "average rating" } } }
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
