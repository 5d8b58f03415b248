// Activity: the log of every change and deletion (GET /activity), newest first, with its filters
// (from, to, actor, order number, type) and cursor paging.

import { api } from "./api.js";
import { badge, errorBox, field, h, humanize, money, Pager, replace, select, when } from "./ui.js";

const TYPES = ["order", "item", "invoice", "payment", "refund", "credit", "note", "fraud", "deletion"];
const FILTERS = ["from", "to", "actor", "order_number", "type"];

let view = null;
const pager = new Pager(); // for "Previous"

function filtersOf(query) {
  const out = {};
  for (const name of FILTERS) if (query.get(name)) out[name] = query.get(name);
  return out;
}

function go(filters, cursor) {
  const qs = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) qs.set(name, filters[name]);
  if (cursor) qs.set("cursor", cursor);
  location.hash = `#/activity${qs.toString() ? `?${qs}` : ""}`;
}

export async function render(main, ctx) {
  ctx.title("Activity");
  view = { ctx };
  const controls = {
    from: h("input", { type: "date", name: "from" }),
    to: h("input", { type: "date", name: "to" }),
    actor: h("input", { name: "actor", maxlength: "254", autocomplete: "off", spellcheck: "false", placeholder: "ada@example.com" }),
    order_number: h("input", { name: "order_number", inputmode: "numeric", maxlength: "10", autocomplete: "off" }),
    type: select([["", "Any"], ...TYPES.map((t) => [t, humanize(t)])], { name: "type" }),
  };
  view.controls = controls;
  const slot = h("div", { class: "form-errors" });
  const form = h("form", { class: "card filters", id: "activity-filters", novalidate: true, "aria-labelledby": "activity-filters-title" },
    h("h2", { id: "activity-filters-title" }, "Filter"), slot,
    h("div", { class: "grid-form" },
      field("From (UTC)", controls.from, { name: "from" }),
      field("To (UTC)", controls.to, { name: "to" }),
      field("Who", controls.actor, { name: "actor", hint: "Exactly, e.g. an email or automation" }),
      field("Order #", controls.order_number, { name: "order_number", hint: "Also of a deleted order" }),
      field("Type", controls.type, { name: "type" })),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, "Filter"),
      h("button", { type: "button", class: "btn", onclick: () => go({}) }, "Reset filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const filters = {};
    for (const name of FILTERS) filters[name] = controls[name].value.trim();
    go(filters);
  });
  view.form = form;
  view.summary = h("p", { class: "muted", role: "status", id: "activity-summary" });
  view.tbody = h("tbody", {});
  view.table = h("table", { id: "activity-table" },
    h("caption", { class: "visually-hidden" }, "Activity, newest first"),
    h("thead", {}, h("tr", {}, ["When", "Who", "Type", "What", "Order", "Detail", "Amount"].map((t) =>
      h("th", { scope: "col", class: t === "Amount" ? "num" : null }, t)))),
    view.tbody);
  view.prev = h("button", { type: "button", class: "btn", id: "activity-prev" }, "← Newer");
  view.next = h("button", { type: "button", class: "btn", id: "activity-next" }, "Older →");
  view.prev.addEventListener("click", () => go(filtersOf(view.ctx.query), pager.previous));
  view.next.addEventListener("click", () => {
    pager.forward(view.ctx.query.get("cursor") || "");
    go(filtersOf(view.ctx.query), view.nextCursor);
  });
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "Activity")),
    form,
    h("section", { class: "card", "aria-labelledby": "activity-summary" },
      h("div", { class: "card-head" }, view.summary, h("div", { class: "pager", style: "margin:0" }, view.prev, view.next)),
      h("div", { class: "table-wrap" }, view.table)));
  await load();
}

export async function update(ctx) {
  view.ctx = ctx;
  await load();
}

async function load() {
  const { query, signal } = view.ctx;
  const filters = filtersOf(query);
  const cursor = query.get("cursor") || "";
  pager.at(filters, cursor);
  for (const name of FILTERS) view.controls[name].value = filters[name] || "";
  view.form.querySelector(".form-errors").replaceChildren();
  view.table.setAttribute("aria-busy", "true");
  try {
    const page = await api.get("/activity", { ...filters, cursor }, { signal });
    view.nextCursor = page.next_cursor;
    drawRows(page.entries);
    const n = page.entries.length;
    view.summary.textContent = n
      ? `${n} entr${n === 1 ? "y" : "ies"}, newest first${page.next_cursor ? "; older ones on the next page" : ""}`
      : page.next_cursor ? "None on this page; read on for older entries" : "No activity matches";
    view.prev.disabled = pager.first;
    view.next.disabled = !page.next_cursor;
    view.table.dataset.query = query.toString(); // what the rows show (tests wait on it)
  } catch (err) {
    if (err.name === "AbortError") return;
    drawRows([]);
    view.summary.textContent = "The activity could not be loaded";
    view.prev.disabled = pager.first;
    view.next.disabled = true;
    const box = errorBox(err);
    if (err.fields && err.fields.cursor) box.append(" ", h("a", { href: "#/activity" }, "Start again from the newest."));
    view.form.querySelector(".form-errors").replaceChildren(box);
    view.table.dataset.query = query.toString();
  } finally {
    view.table.removeAttribute("aria-busy");
  }
}

function orderCell(e) {
  if (!e.order_number) return h("span", { class: "muted" }, "—");
  if (e.type === "deletion" || !e.order_id) return h("span", { class: "mono" }, `#${e.order_number}`);
  return h("a", { href: `#/orders/${e.order_id}`, class: "mono" }, `#${e.order_number}`);
}

function drawRows(entries) {
  if (!entries.length) {
    replace(view.tbody, h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No entries to show.")));
    return;
  }
  replace(view.tbody, entries.map((e) => h("tr", { dataset: { type: e.type, entryId: e.id } },
    h("td", { class: "nowrap" }, when(e.at)),
    h("td", {}, e.actor),
    h("td", {}, badge(e.type === "deletion" ? "cancelled" : "type", humanize(e.type))),
    h("td", {}, e.action, e.from || e.to ? h("div", { class: "muted" }, `${e.from || "—"} → ${e.to || "—"}`) : null),
    h("td", {}, orderCell(e)),
    h("td", {}, e.detail || (e.deleted_order ? deletedSummary(e.deleted_order) : h("span", { class: "muted" }, "—"))),
    h("td", { class: "num" }, e.amount ? money(e.amount, e.currency || "USD") : ""))));
}

function deletedSummary(d) {
  const n = (d.payments || []).length;
  const r = (d.refunds || []).length;
  return `Deleted ${d.status || ""} order, total ${money(d.total, d.currency || "USD")}; ${n} payment${n === 1 ? "" : "s"}, `
    + `${r} refund${r === 1 ? "" : "s"}`;
}
