// Charts whose whole plotly figure ({data, layout}) the server put in data-figure: monitor pages.
(() => {
  document.querySelectorAll("[data-figure]").forEach((el) => {
    const figure = JSON.parse(el.dataset.figure);
    Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
  });
})();
