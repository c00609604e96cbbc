// The deployment page's charts (plotly.js, served by this server): the traffic split and the live
// figures per version. The data is the JSON the page embeds in #deployment-data.
(() => {
  const source = document.getElementById("deployment-data");
  if (!source || typeof Plotly === "undefined") return;
  const data = JSON.parse(source.textContent);
  const config = { displayModeBar: false, responsive: true, staticPlot: false };
  const layout = (title, extra) => ({
    title: { text: title, font: { size: 13 } },
    margin: { l: 45, r: 10, t: 30, b: 30 },
    height: 220,
    showlegend: true,
    legend: { orientation: "h" },
    ...extra,
  });
  const live = data.split.filter((t) => t.weight > 0);
  Plotly.newPlot(
    "traffic-chart",
    [{
      type: "bar",
      orientation: "h",
      y: live.map((t) => `${t.label} (${t.role})`),
      x: live.map((t) => t.weight),
      text: live.map((t) => `${t.weight}%`),
      textposition: "auto",
    }],
    layout("Share of live traffic, %", { xaxis: { range: [0, 100] }, showlegend: false, margin: { l: 150, r: 10, t: 30, b: 30 } }),
    config,
  );
  const series = (key) => data.versions.map((v) => ({
    type: "scatter", mode: "lines+markers", name: `${v.label} (${v.role})`, x: v.t, y: v[key],
  }));
  if (data.versions.length) {
    Plotly.newPlot("rps-chart", series("rps"), layout("Requests/s"), config);
    Plotly.newPlot("p99-chart", series("p99"), layout("p99 latency, ms"), config);
    Plotly.newPlot("errors-chart", series("errors"), layout("Errors per window"), config);
  }
})();
