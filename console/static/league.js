// The league page's trend chart (Apache ECharts): twelve months of each
// row's score or satisfaction rate.
(function () {
  "use strict";
  var el = document.getElementById("trend");
  if (!el || !window.echarts) return;
  var chart = echarts.init(el, null, { renderer: "canvas" });
  fetch(el.dataset.src, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
    chart.setOption({
      animation: false, // a table of record, drawn at once (and so in a screenshot)
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 40, right: 16, top: 60, bottom: 30 },
      xAxis: { type: "category", data: d.months },
      yAxis: { type: "value", name: d.metric },
      series: (d.series || []).map(function (s) {
        return { name: s.key + " " + s.name, type: "line", connectNulls: false, data: s.values };
      })
    });
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
