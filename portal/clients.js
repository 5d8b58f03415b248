// Clients: search by name, email or company (GET /clients?q=), and add a client (support).

import { api, Once, session } from "./api.js";
import { clientFields, newClientBody } from "./client-form.js";
import { busy, clearErrors, errorBox, h, money, replace, showErrors, toast, when } from "./ui.js";

let view = null;

export async function render(main, ctx) {
  ctx.title("Clients");
  view = { ctx };
  const q = h("input", { type: "search", name: "q", id: "client-q", maxlength: "100", value: ctx.query.get("q") || "" });
  const search = h("form", { class: "toolbar", role: "search", "aria-label": "Clients" },
    h("div", { class: "field" }, h("label", { htmlFor: "client-q" }, "Name, email or company"), q),
    h("button", { type: "submit", class: "btn" }, "Search"),
    ctx.query.get("q") ? h("a", { href: "#/clients", class: "btn" }, "Show all") : null);
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = q.value.trim();
    location.hash = text ? `#/clients?${new URLSearchParams({ q: text })}` : "#/clients";
  });
  view.summary = h("p", { class: "muted", role: "status", id: "clients-summary" });
  view.error = h("div", {});
  view.tbody = h("tbody", {});
  view.table = h("table", { id: "clients-table" },
    h("caption", { class: "visually-hidden" }, "Clients by last name"),
    h("thead", {}, h("tr", {}, ["Name", "Company", "Email", "Country", "Credit", "Added"].map((t) =>
      h("th", { scope: "col", class: t === "Credit" ? "num" : null }, t)))),
    view.tbody);
  const canAdd = session.can("support");
  view.addCard = h("div", {});
  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Clients"),
      h("span", { class: "spacer" }),
      canAdd ? h("button", { type: "button", class: "btn btn-primary", id: "add-client", "aria-expanded": "false",
        "aria-controls": "new-client-card", onclick: (e) => toggleAdd(e.currentTarget) }, "Add client") : null),
    view.addCard,
    search,
    view.error,
    h("section", { class: "card", "aria-labelledby": "clients-summary" },
      view.summary, h("div", { class: "table-wrap" }, view.table)));
  await load();
}

export async function update(ctx) {
  view.ctx = ctx;
  await load();
}

async function load() {
  const { query, signal } = view.ctx;
  const q = query.get("q") || "";
  view.table.setAttribute("aria-busy", "true");
  view.error.replaceChildren();
  try {
    const { clients } = await api.get("/clients", { q }, { signal });
    drawRows(clients);
    view.summary.textContent = clients.length
      ? `${clients.length} client${clients.length === 1 ? "" : "s"}${q ? ` matching “${q}”` : ""}, by last name`
      : q ? `No client matches “${q}”` : "No clients yet";
    view.table.dataset.query = query.toString(); // what the rows show (tests wait on it)
  } catch (err) {
    if (err.name === "AbortError") return;
    drawRows([]);
    view.summary.textContent = "The clients could not be loaded";
    view.error.replaceChildren(errorBox(err));
  } finally {
    view.table.removeAttribute("aria-busy");
  }
}

function drawRows(clients) {
  if (!clients.length) {
    replace(view.tbody, h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No clients to show.")));
    return;
  }
  replace(view.tbody, clients.map((c) => h("tr", { dataset: { clientId: c.id } },
    h("td", {}, h("a", { href: `#/clients/${c.id}` }, `${c.first_name} ${c.last_name}`)),
    h("td", {}, c.company || h("span", { class: "muted" }, "—")),
    h("td", {}, c.email),
    h("td", {}, c.country),
    h("td", { class: "num" }, money(c.credit_balance)),
    h("td", { class: "nowrap" }, when(c.created_at, { day: true })))));
}

function toggleAdd(button) {
  if (view.addCard.firstChild) {
    view.addCard.replaceChildren();
    button.setAttribute("aria-expanded", "false");
    return;
  }
  button.setAttribute("aria-expanded", "true");
  const once = new Once();
  const { controls, element } = clientFields(null, { prefix: "new-client" });
  const slot = h("div", { class: "form-errors" });
  const form = h("form", { id: "new-client-form", novalidate: true, "aria-labelledby": "new-client-title" }, slot, element,
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary", id: "new-client-submit" }, "Add client"),
      h("button", { type: "button", class: "btn", onclick: () => toggleAdd(button) }, "Cancel")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = newClientBody(controls);
    let client;
    try {
      client = await busy(document.getElementById("new-client-submit"),
        () => api.post("/clients", body, { idempotencyKey: once.key(body) }), "Adding…");
    } catch (err) {
      showErrors(form, err);
      return;
    }
    toast(`Client ${client.first_name} ${client.last_name} added.`);
    location.hash = `#/clients/${client.id}`;
  });
  view.addCard.replaceChildren(h("section", { class: "card", id: "new-client-card", "aria-labelledby": "new-client-title" },
    h("h2", { id: "new-client-title" }, "New client"), form));
  controls.first_name.focus();
}
