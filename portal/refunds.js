// Refunds owed (billing): refunds recorded through a gateway with no refund API, still to be paid
// back by hand (GET /refunds?state=owed), each confirmed with the payment's reference once paid
// (POST /invoices/{id}/refunds/{refund id}/confirm).

import { api, Once } from "./api.js";
import { busy, clearErrors, errorBox, field, h, money, replace, showErrors, toast, when } from "./ui.js";

let view = null;

export async function render(main, ctx) {
  ctx.title("Refunds owed");
  view = { main, ctx, cursors: [], cursor: "" };
  await load();
}

async function load(focusId) {
  const { signal } = view.ctx;
  const page = await api.get("/refunds", { state: "owed", limit: 100, cursor: view.cursor }, { signal });
  if (signal.aborted) return;
  view.page = page;
  draw();
  if (focusId) document.getElementById(focusId)?.focus();
}

function draw() {
  const { refunds, next_cursor: next } = view.page;
  const rows = refunds.length ? refunds.map(row)
    : [h("tr", {}, h("td", { colspan: "7", class: "empty" }, "Nothing is owed: every refund has been paid back."))];
  const prev = h("button", { type: "button", class: "btn", disabled: !view.cursors.length, onclick: async () => {
    view.cursor = view.cursors.pop();
    await load();
  } }, "← Previous");
  const more = h("button", { type: "button", class: "btn", disabled: !next, onclick: async () => {
    view.cursors.push(view.cursor);
    view.cursor = next;
    await load();
  } }, "Next →");
  replace(view.main,
    h("div", { class: "page-head" }, h("h1", { id: "refunds-title", tabindex: "-1" }, "Refunds owed")),
    h("p", { class: "muted" }, "Refunds of payments made by bank transfer, PayPal or by hand: OrderDesk recorded them, "
      + "but someone has to pay the money back. Once paid, confirm each with the payment's reference."),
    h("section", { class: "card", "aria-labelledby": "owed-summary" },
      h("div", { class: "card-head" },
        h("p", { class: "muted", role: "status", id: "owed-summary" },
          `${refunds.length} refund${refunds.length === 1 ? "" : "s"} owed${next ? " on this page" : ""}`),
        h("div", { class: "pager", style: "margin:0" }, prev, more)),
      h("div", { class: "table-wrap" }, h("table", { id: "refunds-table" },
        h("caption", { class: "visually-hidden" }, "Refunds owed"),
        h("thead", {}, h("tr", {}, ["Recorded", "Order", "Client", "Gateway", "Payment", "Amount", "Paid back?"].map((t) =>
          h("th", { scope: "col", class: t === "Amount" ? "num" : null }, t)))),
        h("tbody", {}, rows)))));
}

function row(r) {
  return h("tr", { dataset: { refundId: r.refund_id } },
    h("td", { class: "nowrap" }, when(r.at)),
    h("td", {}, h("a", { href: `#/orders/${r.order_id}`, class: "mono" }, `#${r.order_number}`),
      h("div", {}, h("a", { href: `#/invoices/${r.invoice_id}`, class: "muted" }, `Invoice ${r.invoice_id}`))),
    h("td", {}, h("a", { href: `#/clients/${r.client_id}` }, r.client_name)),
    h("td", {}, r.gateway),
    h("td", { class: "mono" }, r.payment_transaction_id || h("span", { class: "muted" }, "—")),
    h("td", { class: "num" }, money(r.amount, r.currency)),
    h("td", {}, confirmForm(r)));
}

/** The confirmation of one owed refund: the reference of the money paid back. */
export function confirmForm(r, { onDone } = {}) {
  const once = new Once();
  const id = `ref-${r.refund_id}`;
  const reference = h("input", { name: "reference", id, maxlength: "200", autocomplete: "off", required: true,
    placeholder: "Bank or PayPal reference" });
  const slot = h("div", { class: "form-errors" });
  const label = `Reference for ${money(r.amount, r.currency)} to ${r.client_name || "the client"}`;
  const form = h("form", { class: "confirm-refund", novalidate: true, dataset: { refundId: r.refund_id } }, slot,
    field(label, reference, { name: "reference" }),
    h("button", { type: "submit", class: "btn btn-small btn-primary" }, "Confirm paid back"));
  form.querySelector("label").classList.add("visually-hidden");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { reference: reference.value.trim() };
    if (!body.reference) {
      showErrors(form, { status: 400, message: "Say how it was paid back.", fields: { reference: "the payment's reference" } });
      return;
    }
    try {
      await busy(form.querySelector("button"), () => api.post(`/invoices/${r.invoice_id}/refunds/${r.refund_id}/confirm`, body,
        { idempotencyKey: once.key(body) }), "Confirming…");
    } catch (err) {
      if (err.status === 409 && err.code === "refund_not_owed") {
        form.replaceWith(errorBox(err, { title: "Already settled." }));
        return;
      }
      showErrors(form, err);
      return;
    }
    toast(`Refund of ${money(r.amount, r.currency)} confirmed paid back (${body.reference}).`);
    if (onDone) await onDone();
    else if (view) await load("refunds-title");
  });
  return form;
}
