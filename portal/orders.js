// Manage Orders: status dropdown with counts, Search/Filter panel (every filter of GET /orders),
// newest first, cursor paging, and the bulk status changes with live progress of the job.

import { api, Once, session } from "./api.js";
import { runExport } from "./export.js";
import { badge, busy, confirmDialog, errorBox, field, h, money, Pager, replace, select, sleep, toast, when } from "./ui.js";

const STATUSES = ["Pending", "Active", "Cancelled", "Fraud"];
const PAYMENT_STATUSES = ["Paid", "Unpaid", "Refunded", "Cancelled"];
const PANEL_FILTERS = ["number", "q", "client_id", "payment_status", "placed_from", "placed_to", "promo_code",
  "payment_method", "ip_address", "affiliate_id", "min_total", "max_total", "limit"];
const ALL_FILTERS = ["status", "attention", ...PANEL_FILTERS];
const ATTENTION = "attention"; // the status menu's "Needs attention" choice: GET /orders?attention=true
const BULK = [
  ["Pending", "Set Pending"], ["Active", "Set Active"], ["Cancelled", "Set Cancelled"], ["Fraud", "Set Fraud"],
];

// What the search box matches (GET /orders `q`, as the API's document says it).
const Q_HINT = "Finds orders where every word you type is the start of a word of: the client's name or company, "
  + "the client's email (the whole address, the part before @, the domain) or a domain of the order. "
  + "For Ada Lovelace <ada@example.com> with shop.example.com: ada, lovelace, ada@exam, example.com, shop.example.";

let panelOpen = false; // remembered while the tab lives
const pager = new Pager(); // for "Previous"

let view = null; // the one mounted list

function filtersOf(query) {
  const out = {};
  for (const name of ALL_FILTERS) {
    const v = query.get(name);
    if (v) out[name] = v;
  }
  return out;
}

function go(filters, cursor) {
  const qs = new URLSearchParams();
  for (const name of ALL_FILTERS) if (filters[name]) qs.set(name, filters[name]);
  if (cursor) qs.set("cursor", cursor);
  const text = qs.toString();
  location.hash = `#/orders${text ? `?${text}` : ""}`;
}

export async function render(main, ctx) {
  ctx.title("Orders");
  const canBulk = session.can("admin");
  view = { ctx, selected: new Set(), rows: [], clients: [], affiliates: [], once: new Once() };

  const statusSelect = h("select", { id: "status-filter", "aria-describedby": "status-hint" });
  statusSelect.addEventListener("change", () => {
    const chosen = statusSelect.value;
    go({ ...filtersOf(view.ctx.query), status: chosen === ATTENTION ? "" : chosen,
      attention: chosen === ATTENTION ? "true" : "" });
  });
  const toggle = h("button", {
    type: "button", class: "btn", id: "filter-toggle", "aria-expanded": String(panelOpen), "aria-controls": "filters",
  }, "Search/Filter");
  const panel = buildPanel();
  panel.hidden = !panelOpen;
  toggle.addEventListener("click", () => {
    setPanel(panel.hidden);
    if (panelOpen) panel.querySelector("input, select").focus();
  });

  view.statusSelect = statusSelect;
  view.toggle = toggle;
  view.panel = panel;
  view.chips = h("div", { class: "chips", role: "group", "aria-label": "Active filters" });
  view.error = h("div", {});
  view.tbody = h("tbody", {});
  view.summary = h("p", { class: "muted", role: "status", id: "list-summary" });
  // A search the API cut short (its read budget): how far back it looked, and a way on.
  view.searched = h("p", { class: "searched", id: "searched-to", hidden: true });
  view.selectAll = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every order on this page" });
  view.selectAll.addEventListener("change", () => {
    for (const row of view.rows) {
      if (view.selectAll.checked) view.selected.add(row.id);
      else view.selected.delete(row.id);
    }
    drawRows();
  });
  view.prev = h("button", { type: "button", class: "btn", id: "prev-page" }, "← Previous");
  view.next = h("button", { type: "button", class: "btn", id: "next-page" }, "Next →");
  view.prev.addEventListener("click", () => go(filtersOf(view.ctx.query), pager.previous));
  view.next.addEventListener("click", () => {
    pager.forward(view.ctx.query.get("cursor") || "");
    go(filtersOf(view.ctx.query), view.nextCursor);
  });
  view.table = h("table", { id: "orders-table" },
    h("caption", { class: "visually-hidden" }, "Orders, newest first"),
    h("thead", {}, h("tr", {},
      canBulk ? h("th", { class: "check-cell", scope: "col" }, view.selectAll) : null,
      h("th", { scope: "col" }, "Order #"),
      h("th", { scope: "col" }, "Date"),
      h("th", { scope: "col" }, "Client"),
      h("th", { scope: "col", class: "num" }, "Total"),
      h("th", { scope: "col" }, "Payment method"),
      h("th", { scope: "col" }, "Payment status"),
      h("th", { scope: "col" }, "Status"))),
    view.tbody);
  view.bulk = canBulk ? buildBulk() : null;
  view.progress = h("div", { class: "progress-box", id: "bulk-progress" });
  view.exportBox = h("div", { id: "export-progress" });
  view.exportButton = h("button", { type: "button", class: "btn", id: "export-orders", onclick: () => exportList() },
    "Export CSV", h("span", { class: "visually-hidden" }, " of the orders these filters list"));

  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Orders"),
      h("div", { class: "toolbar", style: "margin:0" },
        h("div", { class: "field" }, h("label", { htmlFor: "status-filter" }, "Show"), statusSelect,
          h("span", { id: "status-hint", class: "visually-hidden" }, "Changes the list at once")),
        toggle),
      h("span", { class: "spacer" }),
      view.exportButton,
      session.can("support") ? h("a", { class: "btn btn-primary", href: "#/orders/new" }, "Add New Order") : null),
    panel,
    view.chips,
    view.exportBox,
    view.error,
    h("section", { class: "card", "aria-labelledby": "list-summary" },
      h("div", { class: "card-head" }, view.summary,
        h("div", { class: "pager", style: "margin:0" }, view.prev, view.next)),
      view.searched,
      h("div", { class: "table-wrap" }, view.table),
      view.bulk,
      view.progress));

  await Promise.all([load(), loadChoices()]);
}

export async function update(ctx) {
  view.ctx = ctx;
  await load();
}

async function loadChoices() {
  const { signal } = view.ctx;
  const [clients, affiliates] = await Promise.all([
    api.get("/clients", null, { signal }).then((r) => r.clients).catch(() => []),
    api.get("/affiliates", null, { signal }).then((r) => r.affiliates).catch(() => []),
  ]);
  view.clients = clients.sort((a, b) => `${a.last_name} ${a.first_name}`.localeCompare(`${b.last_name} ${b.first_name}`));
  view.affiliates = affiliates;
  fillChoices();
  drawChips();
}

// -- Search/Filter panel ---------------------------------------------------------------------

function setPanel(open) {
  panelOpen = open;
  view.panel.hidden = !open;
  view.toggle.setAttribute("aria-expanded", String(open));
}

function buildPanel() {
  const form = h("form", { class: "card filters", id: "filters", "aria-labelledby": "filters-title", novalidate: true });
  const input = (name, props = {}) => h("input", { name, ...props });
  const controls = {
    number: input("number", { inputmode: "numeric", pattern: "\\d{1,10}", maxlength: "10" }),
    q: input("q", { type: "search", maxlength: "100" }),
    client_id: h("select", { name: "client_id" }),
    payment_status: select([["", "Any"], ...PAYMENT_STATUSES], { name: "payment_status" }),
    placed_from: input("placed_from", { type: "date" }),
    placed_to: input("placed_to", { type: "date" }),
    promo_code: input("promo_code", { maxlength: "40" }),
    payment_method: input("payment_method", { maxlength: "40", list: "payment-methods" }),
    ip_address: input("ip_address", { maxlength: "45" }),
    affiliate_id: h("select", { name: "affiliate_id" }),
    min_total: input("min_total", { inputmode: "decimal", placeholder: "0.00" }),
    max_total: input("max_total", { inputmode: "decimal", placeholder: "0.00" }),
    limit: select([["10", "10"], ["", "25"], ["50", "50"], ["100", "100"]], { name: "limit" }),
  };
  view.controls = controls;
  const slot = h("div", { class: "form-errors" });
  form.append(
    h("h2", { id: "filters-title" }, "Search / Filter"),
    slot,
    h("div", { class: "grid-form" },
      field("Order #", controls.number, { name: "number" }),
      field("Client, email, company or domain", controls.q, { name: "q", wide: true, hint: Q_HINT }),
      field("Client", controls.client_id, { name: "client_id" }),
      field("Payment status", controls.payment_status, { name: "payment_status" }),
      field("Placed from (UTC)", controls.placed_from, { name: "placed_from" }),
      field("Placed to (UTC)", controls.placed_to, { name: "placed_to" }),
      field("Promo code", controls.promo_code, { name: "promo_code" }),
      field("Payment method", controls.payment_method, { name: "payment_method" }),
      field("IP address", controls.ip_address, { name: "ip_address" }),
      field("Affiliate", controls.affiliate_id, { name: "affiliate_id" }),
      field("Total at least", controls.min_total, { name: "min_total" }),
      field("Total at most", controls.max_total, { name: "max_total" }),
      field("Orders per page", controls.limit, { name: "limit" })),
    h("datalist", { id: "payment-methods" }, ["stripe", "paypal", "banktransfer", "credit"].map((m) => h("option", { value: m }))),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary" }, "Search"),
      h("button", { type: "button", class: "btn", onclick: () => go({ status: view.ctx.query.get("status") || "" }) },
        "Reset filters")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const filters = { status: view.ctx.query.get("status") || "" };
    for (const name of PANEL_FILTERS) filters[name] = controls[name].value.trim();
    go(filters);
  });
  return form;
}

function fillChoices() {
  const { client_id: clientSel, affiliate_id: affSel } = view.controls;
  const wantedClient = view.ctx.query.get("client_id") || "";
  replace(clientSel, h("option", { value: "" }, "Any client"),
    view.clients.map((c) => h("option", { value: c.id },
      `${c.first_name} ${c.last_name}${c.company ? ` (${c.company})` : ""}`)));
  if (wantedClient && !view.clients.some((c) => c.id === wantedClient)) {
    clientSel.append(h("option", { value: wantedClient }, clientName(wantedClient)));
  }
  clientSel.value = wantedClient;
  const wantedAff = view.ctx.query.get("affiliate_id") || "";
  replace(affSel, h("option", { value: "" }, "Any affiliate"),
    view.affiliates.map((a) => h("option", { value: a.id }, a.name)));
  if (wantedAff && !view.affiliates.some((a) => a.id === wantedAff)) affSel.append(h("option", { value: wantedAff }, wantedAff));
  affSel.value = wantedAff;
}

function clientName(id) {
  const c = view.clients.find((x) => x.id === id);
  if (c) return `${c.first_name} ${c.last_name}`;
  const row = view.rows.find((r) => r.client.id === id);
  return row ? row.client.name : `Client ${id}`;
}

const CHIP_LABELS = {
  status: "Status", number: "Order #", q: "Search", client_id: "Client", payment_status: "Payment",
  placed_from: "Placed from", placed_to: "Placed to", promo_code: "Promo", payment_method: "Method",
  ip_address: "IP", affiliate_id: "Affiliate", min_total: "Total ≥", max_total: "Total ≤", limit: "Per page",
};

function drawChips() {
  const filters = filtersOf(view.ctx.query);
  const chips = Object.entries(filters).map(([name, value]) => {
    let text = value;
    if (name === "client_id") text = clientName(value);
    if (name === "affiliate_id") text = view.affiliates.find((a) => a.id === value)?.name || value;
    return h("span", { class: "chip" }, `${CHIP_LABELS[name]}: ${text}`,
      h("button", {
        type: "button", "aria-label": `Remove filter ${CHIP_LABELS[name]}: ${text}`,
        onclick: () => go({ ...filters, [name]: "" }),
      }, "×"));
  });
  replace(view.chips, chips.length ? [h("span", { class: "muted" }, "Filtered by:"), chips] : null);
}

// -- loading and drawing ------------------------------------------------------------------------

async function load() {
  const { query, signal } = view.ctx;
  const filters = filtersOf(query);
  const cursor = query.get("cursor") || "";
  pager.at(filters, cursor);

  view.statusSelect.value = filters.attention ? ATTENTION : filters.status || "";
  for (const name of PANEL_FILTERS) {
    if (name !== "client_id" && name !== "affiliate_id") view.controls[name].value = filters[name] || "";
  }
  if (view.clients.length || view.affiliates.length) fillChoices();
  // Open the panel when a panel filter is in use, so what filters the list is visible.
  if (PANEL_FILTERS.some((n) => filters[n])) setPanel(true);

  view.table.setAttribute("aria-busy", "true");
  view.error.replaceChildren();
  try {
    const [list, counts] = await Promise.all([
      api.get("/orders", { ...filters, cursor }, { signal }),
      api.get("/order-statuses", null, { signal }),
    ]);
    view.rows = list.orders;
    view.nextCursor = list.next_cursor;
    view.selected = new Set([...view.selected].filter((id) => view.rows.some((r) => r.id === id)));
    view.counts = counts;
    drawCounts(counts, filters.attention ? ATTENTION : filters.status || "");
    drawRows();
    view.table.dataset.query = query.toString(); // what the rows show (tests and tools wait on it)
    const page = pager.page;
    view.summary.textContent = list.orders.length
      ? `Page ${page}: ${list.orders.length} order${list.orders.length === 1 ? "" : "s"}, newest first`
      : "No orders match";
    view.prev.disabled = pager.first;
    view.next.disabled = !list.next_cursor;
    drawSearchedTo(list);
  } catch (err) {
    if (err.name === "AbortError") return;
    view.rows = [];
    drawRows();
    view.summary.textContent = "The list could not be loaded";
    view.searched.hidden = true;
    view.error.replaceChildren(errorBox(err));
    if (err.fields && err.fields.cursor) {
      view.error.firstChild.append(" ", h("a", { href: "#/orders" }, "Start again from the first page."));
    }
  } finally {
    view.table.removeAttribute("aria-busy");
  }
  drawChips();
}

function drawSearchedTo(list) {
  view.searched.hidden = !list.searched_to;
  if (!list.searched_to) return;
  if (!list.orders.length) view.summary.textContent = "No orders match so far";
  replace(view.searched, "Searched up to ", when(list.searched_to), ". ",
    h("button", { type: "button", class: "btn", id: "continue-search", onclick: () => view.next.click() },
      "Continue searching"));
}

function drawCounts(counts, status) {
  const count = (name) => counts.find((c) => c.status === name)?.count ?? 0;
  const total = STATUSES.reduce((sum, s) => sum + count(s), 0);
  replace(view.statusSelect,
    h("option", { value: "" }, `All orders (${total})`),
    STATUSES.map((s) => h("option", { value: s }, `${s} (${count(s)})`)),
    h("option", { value: ATTENTION }, `Needs attention (${count("Attention")})`));
  view.statusSelect.value = status;
}

function drawRows() {
  const canBulk = Boolean(view.bulk);
  const cols = canBulk ? 8 : 7;
  if (!view.rows.length) {
    replace(view.tbody, h("tr", {}, h("td", { colspan: cols, class: "empty" }, "No orders to show.")));
  } else {
    replace(view.tbody, view.rows.map((o) => {
      const picked = view.selected.has(o.id);
      const box = canBulk ? h("input", {
        type: "checkbox", checked: picked, "aria-label": `Select order #${o.number}`, dataset: { orderId: o.id },
        onchange: (e) => {
          if (e.target.checked) view.selected.add(o.id);
          else view.selected.delete(o.id);
          e.target.closest("tr").classList.toggle("selected", e.target.checked);
          syncSelection();
        },
      }) : null;
      return h("tr", { class: picked ? "selected" : null, dataset: { orderId: o.id } },
        canBulk ? h("td", { class: "check-cell" }, box) : null,
        h("td", {}, h("a", { href: `#/orders/${o.id}`, class: "mono" }, o.number)),
        h("td", { class: "nowrap" }, when(o.placed_at)),
        h("td", {},
          h("a", { href: `#/orders?client_id=${encodeURIComponent(o.client.id)}`, title: "Show this client's orders" }, o.client.name),
          o.client.company ? h("div", { class: "muted" }, o.client.company) : null),
        h("td", { class: "num" }, money(o.total, o.currency)),
        h("td", {}, o.payment_method),
        h("td", {}, badge(o.payment_status)),
        h("td", {}, badge(o.status),
          o.flagged_for_review ? [" ", badge("review", "Review")] : null,
          o.pending_action ? [" ", badge("running", "Working…")] : null));
    }));
  }
  syncSelection();
}

// -- export ------------------------------------------------------------------------------------

function exportList() {
  const filters = filtersOf(view.ctx.query);
  // the list's size is known only for a status, attention or no filter at all (the status counts)
  const narrowed = Object.keys(filters).some((n) => !["status", "attention", "limit"].includes(n));
  const count = (name) => (view.counts || []).find((c) => c.status === name)?.count;
  let total = null;
  if (!narrowed && view.counts) {
    total = filters.attention ? count("Attention") : filters.status ? count(filters.status)
      : STATUSES.reduce((sum, st) => sum + (count(st) || 0), 0);
  }
  return runExport({ filters, total, box: view.exportBox, button: view.exportButton, signal: view.ctx.signal });
}

// -- bulk status changes ----------------------------------------------------------------------

function buildBulk() {
  view.bulkCount = h("strong", { id: "bulk-count" }, "0 selected");
  view.bulkButtons = [
    ...BULK.map(([status, label]) => h("button", {
      type: "button", class: "btn btn-small", dataset: { bulk: status }, onclick: () => runBulk(status),
    }, label)),
    h("button", { type: "button", class: "btn btn-small btn-danger-outline", dataset: { bulk: "delete" },
      onclick: () => runBulk("delete") }, "Delete"),
  ];
  return h("div", { class: "bulk", role: "group", "aria-labelledby": "bulk-label" },
    h("span", { id: "bulk-label" }, "With selected orders:"), view.bulkCount, view.bulkButtons,
    h("p", { class: "note" }, "Bulk changes set only the order's status (or delete it): no module command, refund "
      + "or email runs. To provision, terminate or refund, open the order."));
}

function syncSelection() {
  if (!view.bulk) return;
  const n = view.selected.size;
  view.bulkCount.textContent = `${n} selected`;
  for (const b of view.bulkButtons) b.disabled = n === 0;
  const onPage = view.rows.filter((r) => view.selected.has(r.id)).length;
  view.selectAll.checked = onPage > 0 && onPage === view.rows.length;
  view.selectAll.indeterminate = onPage > 0 && onPage < view.rows.length;
}

async function runBulk(target) {
  const ids = [...view.selected];
  if (!ids.length) return;
  const numbers = new Map(view.rows.map((r) => [r.id, r.number]));
  const what = target === "delete" ? "Delete" : `Set to ${target}`;
  const ok = await confirmDialog({
    title: `${what}: ${ids.length} order${ids.length === 1 ? "" : "s"}?`,
    body: [
      h("p", {}, target === "delete"
        ? "The selected orders, with their items, invoices and history, are removed for good. Only Cancelled or Fraud orders can be deleted; others fail alone."
        : `Each selected order's status becomes ${target} where that change is allowed; an order that may not move fails alone with its reason.`),
      h("p", { class: "muted" }, "No module command, refund or email runs."),
    ],
    confirmLabel: target === "delete" ? "Delete orders" : `Set ${target}`,
    danger: target === "delete" || target === "Fraud" || target === "Cancelled",
  });
  if (!ok) return;
  const body = target === "delete" ? { order_ids: ids, delete: true } : { order_ids: ids, status: target };
  const button = view.bulkButtons.find((b) => b.dataset.bulk === (target === "delete" ? "delete" : target));
  let job;
  try {
    job = await busy(button, () => api.post("/orders/bulk", body, { idempotencyKey: view.once.key(body) }));
  } catch (err) {
    view.progress.replaceChildren(errorBox(err, { title: "The bulk change was not started." }));
    view.progress.firstChild.focus();
    return;
  }
  view.selected.clear();
  syncSelection();
  for (const box of view.tbody.querySelectorAll("input[type=checkbox]")) box.checked = false;
  await watchJob(job.job, what, numbers);
}

async function watchJob(job, what, numbers) {
  const { signal } = view.ctx;
  const bar = h("progress", { max: String(job.total || 1), value: "0", "aria-labelledby": "bulk-progress-title" });
  const line = h("p", { "aria-live": "polite" }, "Queued…");
  const failures = h("div", {});
  view.progress.replaceChildren(h("div", { class: "alert alert-info" },
    h("h3", { id: "bulk-progress-title" }, `Bulk change: ${what}, ${job.total} order${job.total === 1 ? "" : "s"}`),
    bar, line, failures));
  let state = job;
  for (let i = 0; !signal.aborted; i++) {
    try {
      state = await api.get(`/bulk-jobs/${job.id}`, null, { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      failures.replaceChildren(errorBox(err, { title: "Progress could not be read." }));
      return;
    }
    const done = state.succeeded + state.failed;
    bar.value = done;
    line.textContent = state.status === "DONE"
      ? `Done: ${state.succeeded} succeeded, ${state.failed} failed.`
      : `${state.status === "QUEUED" ? "Queued" : "Running"}: ${done} of ${state.total} processed (${state.succeeded} succeeded, ${state.failed} failed).`;
    if (state.failures && state.failures.length) {
      failures.replaceChildren(h("ul", {}, state.failures.map((f) => h("li", {},
        h("a", { href: `#/orders/${f.order_id}` }, `Order #${numbers.get(f.order_id) || f.order_id}`), `: ${f.error}`))));
    }
    if (state.status === "DONE") break;
    await sleep(i < 10 ? 500 : 1500, signal);
  }
  if (signal.aborted) return;
  view.progress.firstChild.className = `alert ${state.failed ? "alert-warn" : "alert-ok"}`;
  toast(`Bulk change finished: ${state.succeeded} succeeded, ${state.failed} failed.`);
  await load();
}
