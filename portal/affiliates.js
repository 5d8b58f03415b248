// Affiliates: the list (GET /affiliates), each with its orders, and adding one (support). The API
// has no edit or delete of an affiliate, so neither has this screen.

import { api, Once, session } from "./api.js";
import { busy, clearErrors, field, h, replace, showErrors, toast, when } from "./ui.js";

export async function render(main, ctx) {
  ctx.title("Affiliates");
  const { affiliates } = await api.get("/affiliates", null, { signal: ctx.signal });
  if (ctx.signal.aborted) return;
  affiliates.sort((a, b) => a.name.localeCompare(b.name));
  const rows = affiliates.length ? affiliates.map((a) => h("tr", { dataset: { affiliateId: a.id } },
    h("td", {}, a.name),
    h("td", {}, a.email),
    h("td", { class: "nowrap" }, when(a.created_at, { day: true })),
    h("td", {}, h("a", { href: `#/orders?affiliate_id=${encodeURIComponent(a.id)}` }, "Orders",
      h("span", { class: "visually-hidden" }, ` referred by ${a.name}`)))))
    : [h("tr", {}, h("td", { colspan: "4", class: "empty" }, "No affiliates yet."))];
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, "Affiliates")),
    h("div", { class: "detail" },
      h("section", { class: "card", "aria-labelledby": "aff-list-title" },
        h("h2", { id: "aff-list-title" }, `${affiliates.length} affiliate${affiliates.length === 1 ? "" : "s"}`),
        h("div", { class: "table-wrap" }, h("table", { id: "affiliates-table" },
          h("caption", { class: "visually-hidden" }, "Affiliates by name"),
          h("thead", {}, h("tr", {}, ["Name", "Email", "Added", "Referred orders"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, rows)))),
      session.can("support") ? h("aside", { class: "side", "aria-label": "Add an affiliate" },
        addCard(() => render(main, ctx))) : null));
}

function addCard(reload) {
  const once = new Once();
  const name = h("input", { name: "name", id: "affiliate-name", maxlength: "200", autocomplete: "off", required: true });
  const email = h("input", { name: "email", id: "affiliate-email", type: "email", maxlength: "254", autocomplete: "off",
    spellcheck: "false", required: true });
  const slot = h("div", { class: "form-errors" });
  const form = h("form", { id: "affiliate-form", novalidate: true, "aria-labelledby": "aff-add-title" }, slot,
    h("div", { class: "grid-form", style: "grid-template-columns:1fr" },
      field("Name", name, { name: "name" }), field("Email", email, { name: "email" })),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "affiliate-submit" }, "Add affiliate")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { name: name.value.trim(), email: email.value.trim() };
    let added;
    try {
      added = await busy(document.getElementById("affiliate-submit"),
        () => api.post("/affiliates", body, { idempotencyKey: once.key(body) }), "Adding…");
    } catch (err) {
      showErrors(form, err);
      return;
    }
    toast(`Affiliate ${added.name} added.`);
    await reload(); // the list again, as the API has it
    document.getElementById("affiliate-name")?.focus();
  });
  return h("section", { class: "card", "aria-labelledby": "aff-add-title" }, h("h2", { id: "aff-add-title" }, "Add an affiliate"), form);
}
