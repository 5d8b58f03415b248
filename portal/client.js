// One client: details, the edit form (support), their orders, and the credit ledger with its
// adjustment form (billing).

import { api, Once, session } from "./api.js";
import { clientChanges, clientFields } from "./client-form.js";
import { busy, clearErrors, field, h, money, replace, showErrors, toast, when } from "./ui.js";

export async function render(main, ctx) {
  const page = new ClientPage(main, ctx, ctx.params[0]);
  await page.load();
}

class ClientPage {
  constructor(main, ctx, id) {
    this.main = main;
    this.ctx = ctx;
    this.id = id;
    this.editing = false;
    this.once = { credit: new Once() };
  }

  async load() {
    const { signal } = this.ctx;
    const [client, credit] = await Promise.all([
      api.get(`/clients/${this.id}`, null, { signal }),
      api.get(`/clients/${this.id}/credit`, null, { signal }),
    ]);
    if (signal.aborted) return;
    this.client = client;
    this.credit = credit;
    this.draw();
  }

  draw() {
    const c = this.client;
    const name = `${c.first_name} ${c.last_name}`;
    this.ctx.title(name);
    replace(this.main,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/clients" }, "Clients"), " › ", name),
      h("div", { class: "page-head" },
        h("h1", {}, name),
        h("span", { class: "spacer" }),
        h("a", { class: "btn", href: `#/orders?client_id=${encodeURIComponent(c.id)}` }, "Their orders"),
        session.can("support") ? h("a", { class: "btn btn-primary", href: `#/orders/new?client_id=${encodeURIComponent(c.id)}` },
          "New order for this client") : null),
      h("div", { class: "detail" },
        h("div", {}, this.editing ? this.editCard() : this.detailsCard(), this.ledgerCard()),
        h("aside", { class: "side", "aria-label": "Credit" }, this.creditCard())));
  }

  detailsCard() {
    const c = this.client;
    const none = h("span", { class: "muted" }, "—");
    return h("section", { class: "card", "aria-labelledby": "client-title", id: "client-details" },
      h("div", { class: "card-head" }, h("h2", { id: "client-title" }, "Details"),
        session.can("support") ? h("button", { type: "button", class: "btn btn-small", id: "edit-client",
          onclick: () => this.edit(true) }, "Edit") : null),
      h("dl", { class: "facts" },
        h("dt", {}, "Name"), h("dd", {}, `${c.first_name} ${c.last_name}`),
        h("dt", {}, "Company"), h("dd", {}, c.company || none),
        h("dt", {}, "Email"), h("dd", {}, h("a", { href: `mailto:${c.email}` }, c.email)),
        h("dt", {}, "Country"), h("dd", {}, c.country),
        h("dt", {}, "Phone"), h("dd", {}, c.phone || none),
        h("dt", {}, "Address"), h("dd", {}, c.address || none),
        h("dt", {}, "Added"), h("dd", {}, when(c.created_at))));
  }

  edit(on) {
    this.editing = on;
    this.draw();
    document.getElementById(on ? "edit-client-first-name" : "edit-client")?.focus();
  }

  editCard() {
    const { controls, element } = clientFields(this.client, { prefix: "edit-client" });
    const slot = h("div", { class: "form-errors" });
    const form = h("form", { id: "edit-client-form", novalidate: true, "aria-labelledby": "client-title" }, slot, element,
      h("p", { class: "muted" }, "Orders already placed keep the client as at ordering."),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary", id: "save-client" }, "Save changes"),
        h("button", { type: "button", class: "btn", onclick: () => this.edit(false) }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = clientChanges(this.client, controls);
      if (!Object.keys(body).length) {
        this.edit(false);
        return;
      }
      try {
        this.client = await busy(document.getElementById("save-client"),
          () => api.put(`/clients/${this.id}`, body, { signal: this.ctx.signal }), "Saving…");
      } catch (err) {
        showErrors(form, err);
        return;
      }
      toast("Client saved.");
      this.edit(false);
    });
    return h("section", { class: "card", "aria-labelledby": "client-title", id: "client-details" },
      h("h2", { id: "client-title" }, "Edit details"), form);
  }

  creditCard() {
    const balance = h("p", { class: "big-figure", id: "credit-balance" }, money(this.credit.balance));
    return h("section", { class: "card", "aria-labelledby": "credit-title" },
      h("h2", { id: "credit-title" }, "Credit balance"), balance,
      session.can("billing") ? this.adjustForm() : h("p", { class: "muted" }, "Adjusting credit needs the billing role."));
  }

  adjustForm() {
    const amount = h("input", { name: "amount", id: "credit-amount", inputmode: "decimal", placeholder: "10.00", autocomplete: "off",
      required: true });
    const reason = h("input", { name: "reason", id: "credit-reason", maxlength: "200", autocomplete: "off", required: true });
    const slot = h("div", { class: "form-errors" });
    const form = h("form", { id: "credit-form", novalidate: true, "aria-labelledby": "adjust-title" }, slot,
      h("h3", { id: "adjust-title" }, "Adjust credit"),
      h("div", { class: "grid-form", style: "grid-template-columns:1fr" },
        field("Amount", amount, { name: "amount", hint: "Negative takes credit off (never below 0.00), e.g. -5.00" }),
        field("Reason", reason, { name: "reason" })),
      h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "credit-submit" }, "Adjust credit")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { amount: amount.value.trim(), reason: reason.value.trim() };
      try {
        await busy(document.getElementById("credit-submit"),
          () => api.post(`/clients/${this.id}/credit`, body, { idempotencyKey: this.once.credit.key(body) }), "Adjusting…");
      } catch (err) {
        showErrors(form, err);
        return;
      }
      this.once.credit = new Once(); // the same adjustment again is a new one
      toast(`Credit adjusted by ${money(body.amount)}.`);
      await this.load();
      document.getElementById("credit-amount")?.focus();
    });
    return form;
  }

  ledgerCard() {
    const entries = this.credit.entries;
    const body = entries.length ? h("div", { class: "table-wrap" }, h("table", { id: "credit-ledger" },
      h("caption", { class: "visually-hidden" }, "Credit ledger, newest first"),
      h("thead", {}, h("tr", {}, ["Date", "Reason", "Reference", "By", "Amount"].map((t) =>
        h("th", { scope: "col", class: t === "Amount" ? "num" : null }, t)))),
      h("tbody", {}, entries.map((e) => h("tr", {},
        h("td", { class: "nowrap" }, when(e.at)),
        h("td", {}, e.reason),
        h("td", {}, e.ref ? h("a", { href: `#/invoices/${e.ref}`, class: "mono" }, e.ref) : h("span", { class: "muted" }, "—")),
        h("td", {}, e.actor || h("span", { class: "muted" }, "—")),
        h("td", { class: "num" }, money(e.amount)))))))
      : h("p", { class: "muted" }, "No credit has been given or used.");
    return h("section", { class: "card", "aria-labelledby": "ledger-title" },
      h("h2", { id: "ledger-title" }, "Credit ledger"),
      this.credit.next_cursor ? h("p", { class: "muted" }, `The ${entries.length} newest entries.`) : null,
      body);
  }
}
