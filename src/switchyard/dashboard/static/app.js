// Switchyard dashboard: charts (uPlot), copy buttons, confirmations. Loaded from this origin only (CSP).
(function () {
  "use strict";

  function css(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function fmtUsd(v) { return v == null ? "" : "$" + (Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2)); }

  function fmtCompact(v) {
    if (v == null) return "";
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toFixed(1) + "B";
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + "M";
    if (a >= 1e4) return +(v / 1e3).toFixed(0) + "k";
    return String(+v.toFixed(2));
  }

  var CHARTS = {
    requests: function (d) { return { series: [["Requests", d.requests, "--accent"], ["Errors", d.errors, "--bad"]] }; },
    cost: function (d) { return { series: [["Cost (USD)", d.cost, "--good"]], value: fmtUsd }; },
    tokens: function (d) { return { series: [["Input", d.prompt_tokens, "--accent"], ["Output", d.completion_tokens, "--warn"]] }; },
    latency: function (d) { return { series: [["Avg latency (ms)", d.latency, "--warn"]] }; },
  };

  function drawCharts() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var src = document.getElementById(el.dataset.source);
      var make = CHARTS[el.dataset.chart];
      if (!src || !make) return;
      var data = JSON.parse(src.textContent);
      var spec = make(data);
      var axisColor = css("--muted"), grid = css("--border");
      var axis = { stroke: axisColor, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      var opts = {
        width: Math.max(el.clientWidth, 280), height: 200,
        series: [{}].concat(spec.series.map(function (s) {
          var color = css(s[2]);
          return { label: s[0], stroke: color, fill: color + "22", width: 1.5, spanGaps: false,
                   value: spec.value ? function (u, v) { return spec.value(v); } : undefined };
        })),
        axes: [Object.assign({}, axis), Object.assign({}, axis, { size: spec.value ? 78 : 60,
          values: function (u, vals) { return vals.map(spec.value || fmtCompact); } })],
        cursor: { drag: { x: false, y: false } },
      };
      el.textContent = "";
      var cols = [data.x].concat(spec.series.map(function (s) { return s[1]; }));
      var plot = new uPlot(opts, cols, el);
      new ResizeObserver(function () { plot.setSize({ width: Math.max(el.clientWidth, 280), height: 200 }); }).observe(el);
    });
  }

  function copy(button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) return;
    var text = target.value !== undefined ? target.value : target.textContent;
    var done = function () { var old = button.textContent; button.textContent = "Copied"; setTimeout(function () { button.textContent = old; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else if (target.select) { target.select(); document.execCommand("copy"); done(); }
    else { var r = document.createRange(); r.selectNodeContents(target); var s = getSelection(); s.removeAllRanges(); s.addRange(r); document.execCommand("copy"); done(); }
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (b) copy(b);
  });
  document.addEventListener("submit", function (e) {
    var f = e.target.closest("form[data-confirm]");
    if (f && !window.confirm(f.dataset.confirm)) e.preventDefault();
  }, true);
  // The custom From/To inputs only matter with "Custom": hide them otherwise (they stay usable without JS).
  function syncRange() {
    document.querySelectorAll("select[name=range]").forEach(function (sel) {
      var form = sel.form; if (!form) return;
      form.querySelectorAll(".field.custom").forEach(function (f) { f.hidden = sel.value !== "custom"; });
    });
  }
  document.addEventListener("change", function (e) { if (e.target.matches("select[name=range]")) syncRange(); });
  // A page answering a form post (e.g. a new key, shown once) becomes a plain GET entry: reloading it must not
  // post the form again.
  try { history.replaceState(history.state, "", location.href); } catch (e) { /* not fatal */ }
  document.addEventListener("DOMContentLoaded", function () { syncRange(); drawCharts(); });
})();
