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

  // The inbox list is fetched again when the live stream announces an item. Such a fetch that
  // overlapped a mark read may have been read before the mark was stored, and swapped in after
  // the mark it would show the item unread again: its answer is dropped, and the list is fetched
  // again once no mark is on its way (after every mark too: the new unread count).
  var MARK = /^\/inbox\/[^/]+\/read$/;
  var marks = { sent: 0, pending: 0 };

  function isListFetch(detail) {
    return detail.requestConfig && detail.requestConfig.path.indexOf("/inbox/list") === 0;
  }

  function isMark(detail) {
    return detail.requestConfig && MARK.test(detail.requestConfig.path);
  }

  function fetchInboxListSoon() {
    // later: htmx keeps an element's request lock until after htmx:afterRequest
    window.setTimeout(function () {
      var list = document.getElementById("inbox-list");
      if (list && marks.pending === 0) window.htmx.trigger(list, "inbox:refresh");
    }, 0);
  }

  function watchInboxFetches() {
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var detail = event.detail;
      if (isMark(detail)) {
        marks.sent += 1;
        marks.pending += 1;
      } else if (isListFetch(detail)) {
        detail.xhr.northstarMarksSent = marks.sent;
        detail.xhr.northstarMarkPending = marks.pending > 0;
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!isMark(event.detail)) return;
      marks.pending -= 1;
      fetchInboxListSoon();
    });
    document.body.addEventListener("htmx:beforeSwap", function (event) {
      var detail = event.detail;
      if (!isListFetch(detail)) return;
      if (detail.xhr.northstarMarkPending || detail.xhr.northstarMarksSent !== marks.sent) {
        detail.shouldSwap = false;
        fetchInboxListSoon();
      }
    });
  }

  function start() {
    if (window.htmx) {
      watchInboxFetches();
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
