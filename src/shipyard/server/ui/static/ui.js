// The runs table: "Compare" needs two ticked runs; the header box ticks them all.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compare");
  if (!form) return;
  const boxes = () => [...form.querySelectorAll("input[name=run]")];
  const all = document.getElementById("select-all");
  const update = () => {
    const n = boxes().filter((b) => b.checked).length;
    document.getElementById("compare-button").disabled = n < 2;
    document.getElementById("selected-count").textContent = n ? `${n} selected` : "select runs to compare";
    if (all) all.checked = n > 0 && n === boxes().length;
  };
  if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); });
  form.addEventListener("change", update);
  update();
});

// Model cards: the frame grows to its document (same origin lets us measure it; the sandbox still
// runs no script inside the card).
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("iframe.card-frame").forEach((frame) => {
    const fit = () => {
      const doc = frame.contentDocument;
      if (doc && doc.documentElement) frame.style.height = `${doc.documentElement.scrollHeight + 2}px`;
    };
    frame.addEventListener("load", fit);
    fit();
  });
});
