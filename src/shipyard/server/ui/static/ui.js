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
  // Nested runs: a parent's toggle shows its children; hiding them hides their own children too.
  const rowsUnder = (id) => [...form.querySelectorAll(`tr[data-parent="${CSS.escape(id)}"]`)];
  const collapse = (id) => rowsUnder(id).forEach((row) => {
    row.hidden = true;
    const toggle = row.querySelector("button.toggle");
    if (toggle) { toggle.setAttribute("aria-expanded", "false"); toggle.textContent = toggle.textContent.replace("▾", "▸"); }
    collapse(row.dataset.runId);
  });
  form.querySelectorAll("button.toggle").forEach((toggle) => {
    toggle.addEventListener("click", () => {
      const id = toggle.closest("tr").dataset.runId;
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = toggle.textContent.replace(open ? "▸" : "▾", open ? "▾" : "▸");
      if (open) rowsUnder(id).forEach((row) => { row.hidden = false; });
      else collapse(id);
    });
  });
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

// The runs table's columns: the ones the user hides are remembered per experiment in this
// browser's localStorage (key "shipyard.runs.columns.<experiment id>", a JSON list of hidden
// columns), so new metrics and params still show up by default.
document.addEventListener("DOMContentLoaded", () => {
  const menu = document.getElementById("column-menu");
  if (!menu) return;
  const table = document.querySelector("table.runs");
  const key = menu.dataset.store;
  const boxes = [...menu.querySelectorAll("input[type=checkbox]")];
  const load = () => {
    try { return new Set(JSON.parse(localStorage.getItem(key) || "[]")); } catch (e) { return new Set(); }
  };
  const apply = (hidden) => {
    boxes.forEach((b) => { b.checked = !hidden.has(b.value); });
    table.querySelectorAll("[data-col]").forEach((cell) => { cell.hidden = hidden.has(cell.dataset.col); });
    table.querySelectorAll("tr.groups th[data-group]").forEach((group) => {
      const shown = table.querySelectorAll(`th[data-group-member="${group.dataset.group}"]:not([hidden])`).length;
      group.hidden = shown === 0;
      if (shown) group.colSpan = shown;
    });
  };
  const save = () => {
    const hidden = boxes.filter((b) => !b.checked).map((b) => b.value);
    // Columns of other pages stay as they were: only this page's choices change.
    const kept = [...load()].filter((col) => !boxes.some((b) => b.value === col));
    localStorage.setItem(key, JSON.stringify([...kept, ...hidden]));
    apply(new Set([...kept, ...hidden]));
  };
  menu.addEventListener("change", save);
  document.getElementById("columns-reset").addEventListener("click", () => {
    boxes.forEach((b) => { b.checked = true; });
    save();
  });
  apply(load());
});
