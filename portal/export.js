// The orders list's Export: POST /exports with the list's filters, a progress bar fed by
// GET /exports/{id} (rows written so far), then the file's download link (valid 15 minutes; the
// file comes straight from storage, never through the API).

import { api } from "./api.js";
import { busy, errorBox, h, sleep, toast } from "./ui.js";

/** The list's query as the export's filters (JSON values; paging is not a filter). */
export function exportFilters(filters) {
  const out = {};
  for (const [name, value] of Object.entries(filters)) {
    if (name === "limit" || name === "cursor" || !value) continue;
    out[name] = name === "attention" ? value === "true" : value;
  }
  return out;
}

/**
 * Start an export of `filters` and show it in `box` until its link is there. `total`, when the
 * list's size is known (a status or no filter: the status counts), sizes the progress bar.
 */
export async function runExport({ filters, total, box, button, signal }) {
  const body = { filters: exportFilters(filters) };
  let started;
  try {
    // no Idempotency-Key: each press is an export of its own (the list may have changed)
    started = await busy(button, () => api.post("/exports", body, { signal }), "Starting…");
  } catch (err) {
    box.replaceChildren(errorBox(err, { title: "The export was not started." }));
    box.firstChild.focus();
    return;
  }
  const bar = h("progress", { id: "export-bar", "aria-labelledby": "export-title" });
  if (total) bar.max = total;
  else bar.removeAttribute("value"); // indeterminate: how many the filters list is not known
  const line = h("p", { id: "export-status", "aria-live": "polite" }, "Starting…");
  const result = h("div", {});
  const card = h("div", { class: "alert alert-info", id: "export-box" },
    h("h3", { id: "export-title" }, "Export to CSV"), bar, line, result);
  box.replaceChildren(card);
  let state = started.export;
  for (let i = 0; !signal.aborted; i++) {
    if (total) bar.value = Math.min(state.rows, total);
    if (state.status === "DONE") {
      bar.max = Math.max(state.rows, 1);
      bar.value = bar.max;
      line.textContent = `Done: ${state.rows} order${state.rows === 1 ? "" : "s"} written.`;
      const link = h("a", { href: state.url, download: state.file_name || "orders.csv", class: "btn btn-primary", id: "export-link",
        rel: "noopener" }, `Download ${state.file_name || "the CSV file"}`);
      result.replaceChildren(h("p", {}, link), h("p", { class: "muted" },
        "The link works for 15 minutes; export again for a new one. The file is kept 7 days."));
      card.className = "alert alert-ok";
      toast(`Export ready: ${state.rows} orders.`);
      link.focus();
      return;
    }
    if (state.status === "FAILED") {
      line.textContent = "The export failed.";
      result.replaceChildren(errorBox({ message: state.error || "No reason was given." }, { title: "Export failed." }));
      card.className = "alert alert-warn";
      return;
    }
    line.textContent = `Writing: ${state.rows} order${state.rows === 1 ? "" : "s"} so far${total ? ` of ${total}` : ""}…`;
    await sleep(i < 10 ? 400 : 1500, signal);
    if (signal.aborted) return;
    try {
      state = await api.get(`/exports/${state.id}`, null, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      result.replaceChildren(errorBox(err, { title: "Progress could not be read." }));
      return;
    }
  }
}
