// Add New Order: client (an existing one, or a new one added inline), items (products, addons,
// domains with a registrar of GET /registrars), payment and the optional extras.

import { api, Once } from "./api.js";
import { clientFields, newClientBody } from "./client-form.js";
import { registrarSelect, registrars as loadRegistrars } from "./registrars.js";
import { busy, checkbox, clearErrors, field, h, replace, select, showErrors, toast } from "./ui.js";

const CYCLES = ["one-time", "monthly", "quarterly", "semi-annually", "annually", "biennially", "triennially"];

export async function render(main, ctx) {
  ctx.title("Add New Order");
  const { signal } = ctx;
  const [clients, affiliates, servers, registrars] = await Promise.all([
    api.get("/clients", null, { signal }).then((r) => r.clients),
    api.get("/affiliates", null, { signal }).then((r) => r.affiliates).catch(() => []),
    api.get("/servers", null, { signal }).then((r) => r.servers).catch(() => []),
    loadRegistrars(signal),
  ]);
  if (signal.aborted) return;
  clients.sort((a, b) => `${a.last_name} ${a.first_name}`.localeCompare(`${b.last_name} ${b.first_name}`));
  const once = new Once();
  const items = h("div", { id: "items" });
  let count = 0;

  const addItem = (kind) => {
    const n = count++;
    const legendId = `item-${n}-legend`;
    const box = h("fieldset", { class: "item-editor", dataset: { kind, n: String(n) }, "aria-labelledby": legendId });
    const pre = `items.${n}.`;
    const kindLabel = { product: "Product / service", addon: "Addon", domain: "Domain" }[kind];
    const common = [
      field("Description", h("input", { name: "description", value: kind === "domain" ? "Domain registration" : "", maxlength: "200", required: true }),
        { name: `${pre}description`, wide: true }),
      field("Amount", h("input", { name: "amount", inputmode: "decimal", placeholder: "0.00", required: true }), { name: `${pre}amount` }),
      field("Billing cycle", select(CYCLES, { name: "billing_cycle", value: kind === "domain" ? "annually" : "monthly" }),
        { name: `${pre}billing_cycle` }),
    ];
    const specific = kind === "domain" ? [
      field("Domain", h("input", { name: "domain", placeholder: "example.com", maxlength: "253", spellcheck: "false" }), { name: `${pre}domain` }),
      field("Registration", select([["register", "Register"], ["transfer", "Transfer"]], { name: "registration_type" }),
        { name: `${pre}registration_type` }),
      field("Years", h("input", { name: "period_years", type: "number", min: "1", max: "10", value: "1" }), { name: `${pre}period_years` }),
      field("Registrar", registrarSelect(registrars, { name: "registrar" }), { name: `${pre}registrar` }),
    ] : [
      field("Server", select([["", "None"], ...servers.map((s) => [s.id, `${s.name} (${s.module})`])], { name: "server_id" }),
        { name: `${pre}server_id` }),
      field("Username", h("input", { name: "username", maxlength: "32", autocomplete: "off", spellcheck: "false" }), { name: `${pre}username` }),
    ];
    const remove = h("button", { type: "button", class: "btn btn-small", onclick: () => {
      box.remove();
      document.getElementById("add-product")?.focus();
    } }, "Remove item");
    box.append(h("legend", { id: legendId }, `${kindLabel} ${n + 1}`),
      h("div", { class: "grid-form" }, common, specific), h("div", { class: "form-actions" }, remove));
    items.append(box);
    return box;
  };

  const client = select([["", "Choose a client…"], ...clients.map((c) => [c.id, `${c.last_name}, ${c.first_name} — ${c.email}`])],
    { name: "client_id", id: "new-client", required: true });
  const wanted = ctx.query.get("client_id");
  if (wanted) client.value = wanted;
  const inline = newClientBox(client);
  const method = h("input", { name: "payment_method", id: "new-method", value: "stripe", list: "new-methods", maxlength: "40", required: true });
  const promo = h("input", { name: "promo_code", maxlength: "40" });
  const discount = h("input", { name: "discount", inputmode: "decimal", placeholder: "0.00" });
  const ip = h("input", { name: "ip_address", maxlength: "45" });
  const affiliate = select([["", "None"], ...affiliates.map((a) => [a.id, a.name])], { name: "affiliate_id" });
  const currency = h("input", { name: "currency", value: "USD", maxlength: "3", pattern: "[A-Z]{3}" });
  const notes = h("textarea", { name: "notes", maxlength: "5000" });
  const skip = checkbox("Skip the fraud check", { name: "skip_fraud_check" });
  const slot = h("div", { class: "form-errors" });

  const form = h("form", { id: "new-order", novalidate: true, "aria-labelledby": "new-title" },
    slot,
    h("section", { class: "card", "aria-labelledby": "who-title" }, h("h2", { id: "who-title" }, "Client and payment"),
      h("div", { class: "grid-form" },
        field("Client", client, { name: "client_id", wide: true }),
        h("div", { class: "field wide field-end" }, inline.toggle),
        field("Payment method", method, { name: "payment_method" }),
        field("Currency", currency, { name: "currency" }),
        field("Promotion code", promo, { name: "promo_code" }),
        field("Discount", discount, { name: "discount" }),
        field("IP address", ip, { name: "ip_address" }),
        field("Affiliate", affiliate, { name: "affiliate_id" })),
      inline.box,
      h("datalist", { id: "new-methods" }, ["stripe", "paypal", "banktransfer", "credit"].map((m) => h("option", { value: m })))),
    h("section", { class: "card", "aria-labelledby": "items-title" }, h("h2", { id: "items-title" }, "Items"),
      h("div", { dataset: { field: "items" }, tabindex: "-1" }, items),
      h("div", { class: "btn-row" },
        h("button", { type: "button", class: "btn", id: "add-product", onclick: () => addItem("product").querySelector("input").focus() }, "+ Product / service"),
        h("button", { type: "button", class: "btn", onclick: () => addItem("addon").querySelector("input").focus() }, "+ Addon"),
        h("button", { type: "button", class: "btn", onclick: () => addItem("domain").querySelector("input").focus() }, "+ Domain"))),
    h("section", { class: "card", "aria-labelledby": "extra-title" }, h("h2", { id: "extra-title" }, "Notes"),
      field("Notes / additional information", notes, { name: "notes" }),
      h("div", { class: "form-actions" }, skip)),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary", id: "create-order" }, "Create order"),
      h("a", { href: "#/orders", class: "btn" }, "Cancel")));

  // Renumber items so the API's `items.<n>.field` errors land on the right control.
  const bodyOf = () => {
    const out = { client_id: client.value, payment_method: method.value.trim(), currency: currency.value.trim() || "USD", items: [] };
    for (const [k, el] of [["promo_code", promo], ["discount", discount], ["ip_address", ip], ["affiliate_id", affiliate], ["notes", notes]]) {
      if (el.value.trim()) out[k] = el.value.trim();
    }
    if (skip.querySelector("input").checked) out.skip_fraud_check = true;
    [...items.children].forEach((box, i) => {
      const get = (name) => box.querySelector(`[name="${name}"]`);
      const item = { kind: box.dataset.kind };
      for (const name of ["description", "amount", "billing_cycle", "domain", "registration_type", "registrar", "server_id", "username"]) {
        const el = get(name);
        if (el && el.value.trim()) item[name] = el.value.trim();
      }
      const years = get("period_years");
      if (years && years.value) item.period_years = Number(years.value);
      for (const el of box.querySelectorAll("[data-field]")) el.dataset.field = el.dataset.field.replace(/^items\.\d+\./, `items.${i}.`);
      out.items.push(item);
    });
    return out;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    inline.clear();
    if (!items.children.length) {
      showErrors(form, { status: 400, message: "An order needs at least one item.", fields: { items: "add a product, addon or domain" } });
      return;
    }
    if (inline.open() && !(await inline.create())) return;
    const body = bodyOf();
    let order;
    try {
      order = await busy(document.getElementById("create-order"), () => api.post("/orders", body, { idempotencyKey: once.key(body) }), "Creating…");
    } catch (err) {
      showErrors(form, err);
      return;
    }
    toast(`Order #${order.number} created.`);
    location.hash = `#/orders/${order.id}`;
  });

  addItem("product");
  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/orders" }, "Orders"), " › Add New Order"),
    h("div", { class: "page-head" }, h("h1", { id: "new-title" }, "Add New Order")),
    form);
}

/** "New client": the client's fields inside the order form, added first when the order is created;
 * once added it is chosen in the Client menu, so a retry of the order does not add it twice. */
function newClientBox(clientSelect) {
  const once = new Once();
  const { controls, element } = clientFields(null, { prefix: "inline-client" });
  const slot = h("div", { class: "form-errors" });
  const box = h("fieldset", { class: "item-editor", id: "inline-client", hidden: true, "aria-labelledby": "inline-client-legend" },
    h("legend", { id: "inline-client-legend" }, "New client"), slot, element,
    h("p", { class: "muted" }, "The client is added when the order is created."));
  const toggle = h("button", { type: "button", class: "btn", id: "toggle-new-client", "aria-expanded": "false",
    "aria-controls": "inline-client" }, "New client…");
  const show = (on) => {
    box.hidden = !on;
    toggle.setAttribute("aria-expanded", String(on));
    toggle.textContent = on ? "Choose an existing client instead" : "New client…";
    clientSelect.disabled = on;
    clientSelect.required = !on;
  };
  toggle.addEventListener("click", () => {
    show(box.hidden);
    (box.hidden ? clientSelect : controls.first_name).focus();
  });
  return {
    box,
    toggle,
    open: () => !box.hidden,
    clear: () => clearErrors(box),
    /** Adds the client; true when it is now the order's client. */
    async create() {
      const body = newClientBody(controls);
      let added;
      try {
        added = await busy(document.getElementById("create-order"),
          () => api.post("/clients", body, { idempotencyKey: once.key(body) }), "Adding the client…");
      } catch (err) {
        showErrors(box, err);
        return false;
      }
      clientSelect.append(h("option", { value: added.id }, `${added.last_name}, ${added.first_name} — ${added.email}`));
      clientSelect.value = added.id;
      show(false);
      toast(`Client ${added.first_name} ${added.last_name} added.`);
      return true;
    },
  };
}
