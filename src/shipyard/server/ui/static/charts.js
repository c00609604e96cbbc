// Metric charts of the run page: plotly.js over the series the server put in data-series
// (already downsampled to ~1,000 points). The x axis, smoothing and log scale apply to all charts.
(() => {
  const ema = (values, weight) => {  // exponential moving average, debiased like TensorBoard's
    if (!weight) return values;
    let acc = 0, n = 0;
    return values.map((v) => {
      if (v === null) return null;
      acc = acc * weight + (1 - weight) * v;
      n += 1;
      return acc / (1 - Math.pow(weight, n));
    });
  };
  const xs = (s, mode) => {
    if (mode === "time") return s.time.map((t) => new Date(t));
    if (mode === "relative") return s.time.map((t) => (t - s.time[0]) / 1000);
    return s.step;
  };
  const draw = () => {
    const mode = document.getElementById("chart-x").value;
    const weight = Number(document.getElementById("chart-smooth").value);
    const log = document.getElementById("chart-log").checked;
    document.querySelectorAll(".metric-chart").forEach((el) => {
      const s = JSON.parse(el.dataset.series);
      const curves = s.runs || [{ ...s, name: s.key }];  // compare: one curve per run
      const traces = [];
      curves.forEach((c) => {
        const x = xs(c, mode);
        const y = weight ? ema(c.value, weight) : c.value;
        traces.push({ x, y, name: c.name, mode: "lines", line: { width: 1.5 } });
        if (weight && !s.runs) traces.unshift({ x, y: c.value, name: `${c.name} (raw)`, mode: "lines", opacity: 0.3 });
      });
      const layout = {
        title: { text: s.key, font: { size: 14 } },
        height: 260,
        margin: { l: 50, r: 10, t: 30, b: 40 },
        showlegend: Boolean(s.runs),
        xaxis: { title: { text: mode === "relative" ? "seconds since first point" : mode } },
        yaxis: { type: log ? "log" : "linear" },
      };
      Plotly.react(el, traces, layout, { responsive: true, displaylogo: false });
    });
  };
  const bars = () => {  // feature histograms and logged importances: plain bar charts
    document.querySelectorAll(".histogram-chart").forEach((el) => {
      const h = JSON.parse(el.dataset.histogram);
      const mids = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
      const widths = h.counts.map((_, i) => h.edges[i + 1] - h.edges[i]);
      Plotly.react(el, [{ type: "bar", x: mids, y: h.counts, width: widths, marker: { line: { width: 1, color: "#fff" } } }],
        { title: { text: el.dataset.feature, font: { size: 13 } }, height: 220, margin: { l: 45, r: 10, t: 30, b: 30 }, bargap: 0 },
        { responsive: true, displaylogo: false });
    });
    document.querySelectorAll(".sweep-chart").forEach((el) => {
      const d = JSON.parse(el.dataset.sweep);
      const last = d.dimensions[d.dimensions.length - 1];
      Plotly.react(el, [{ type: "parcoords", dimensions: d.dimensions,
        line: { color: last.values.map((v) => (v === null ? 0 : v)), colorscale: "Viridis", showscale: true } }],
        { height: 380, margin: { l: 60, r: 60, t: 50, b: 30 } }, { responsive: true, displaylogo: false });
    });
    document.querySelectorAll(".importance-chart").forEach((el) => {
      const d = JSON.parse(el.dataset.importance);
      Plotly.react(el, [{ type: "bar", orientation: "h", y: d.names.slice().reverse(), x: d.values.slice().reverse() }],
        { title: { text: d.title, font: { size: 13 } }, height: 60 + 22 * d.names.length, margin: { l: 180, r: 10, t: 30, b: 30 } },
        { responsive: true, displaylogo: false });
    });
  };
  document.addEventListener("DOMContentLoaded", () => {
    if (typeof Plotly === "undefined") return;
    bars();
    const form = document.getElementById("chart-controls");
    if (!form) return;
    form.addEventListener("input", draw);
    form.addEventListener("submit", (e) => e.preventDefault());
    draw();
  });
})();
