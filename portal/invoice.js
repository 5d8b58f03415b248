// Invoice view: lines and totals, payments and refunds, and the record-payment form.

import { api, Once, session } from "./api.js";
import { confirmForm } from "./refunds.js";
import { badge, busy, clearErrors, field, h, money, replace, showErrors, toast, when } from "./ui.js";

const OPEN = new Set(["Unpaid", "Payment Pending", "Draft", "Collections"]);

export async function render(main, ctx) {
  const id = ctx.params[0];
  const once = new Once();
  const invoice = await api.get(`/invoices/${id}`, null, { signal: ctx.signal });
  // The order gives the breadcrumb its number and the client's name; the invoice stands without it.
  const order = await api.get(`/orders/${invoice.order_id}`, null, { signal: ctx.signal }).catch(() => null);
  if (ctx.signal.aborted) return;
  draw(main, ctx, invoice, order, once);
}

function draw(main, ctx, inv, order, once) {
  const cur = inv.currency;
  ctx.title(`Invoice ${inv.id}`);
  const orderLabel = order ? `Order #${order.number}` : "Order";
  const lines = h("table", { id: "invoice-lines" },
    h("caption", { class: "visually-hidden" }, "Invoice lines"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Description"), h("th", { scope: "col", class: "num" }, "Amount"))),
    h("tbody", {}, inv.lines.map((l) => h("tr", {}, h("td", {}, l.description), h("td", { class: "num" }, money(l.amount, cur))))),
    h("tfoot", {},
      total("Subtotal", inv.subtotal, cur),
      Number(inv.discount) ? total("Discount", `-${inv.discount}`, cur) : null,
      Number(inv.tax) ? total("Tax", inv.tax, cur) : null,
      total("Total", inv.total, cur),
      total("Balance due", inv.balance, cur, "balance")));

  const txns = [...inv.transactions].sort((a, b) => (a.at < b.at ? 1 : -1));
  const byId = new Map(inv.transactions.map((t) => [t.id, t]));
  const transactions = txns.length ? h("div", { class: "table-wrap" }, h("table", { id: "transactions" },
    h("caption", { class: "visually-hidden" }, "Payments and refunds, newest first"),
    h("thead", {}, h("tr", {}, ["Date", "Type", "Gateway", "Transaction ID", "Amount"].map((t, i) =>
      h("th", { scope: "col", class: i === 4 ? "num" : null }, t)))),
    h("tbody", {}, txns.map((t) => h("tr", { dataset: { type: t.type } },
      h("td", { class: "nowrap" }, when(t.at)),
      h("td", {}, t.type === "refund" ? (t.state === "owed" ? badge("owed", "Refund owed") : badge("refunded", "Refund"))
        : badge("paid", "Payment"),
        t.refund_of && byId.get(t.refund_of) ? h("div", { class: "muted" }, `of ${byId.get(t.refund_of).transaction_id}`) : null),
      h("td", {}, t.gateway),
      h("td", { class: "mono" }, t.state === "owed" ? "to pay back by hand" : t.transaction_id),
      h("td", { class: "num" }, t.type === "refund" ? `−${money(t.amount, cur)}` : money(t.amount, cur)))))))
    : h("p", { class: "muted" }, "No payments or refunds yet.");

  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/orders" }, "Orders"), " › ",
      h("a", { href: `#/orders/${inv.order_id}` }, orderLabel), " › ", `Invoice ${inv.id}`),
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, `Invoice ${inv.id}`), badge(inv.status)),
    h("div", { class: "detail" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "lines-title" },
          h("h2", { id: "lines-title" }, "Lines"), h("div", { class: "table-wrap" }, lines)),
        h("section", { class: "card", "aria-labelledby": "tx-title" },
          h("h2", { id: "tx-title" }, "Payments and refunds"), transactions)),
      h("aside", { class: "side", "aria-label": "Invoice summary and payment" },
        h("section", { class: "card", "aria-labelledby": "sum-title" },
          h("h2", { id: "sum-title" }, "Summary"),
          h("dl", { class: "facts" },
            h("dt", {}, "Status"), h("dd", {}, badge(inv.status)),
            h("dt", {}, "Order"), h("dd", {}, h("a", { href: `#/orders/${inv.order_id}` }, orderLabel)),
            order ? [h("dt", {}, "Client"), h("dd", {}, order.client.name)] : null,
            h("dt", {}, "Payment method"), h("dd", {}, inv.payment_method),
            h("dt", {}, "Due date"), h("dd", {}, when(inv.due_date, { day: true })),
            h("dt", {}, "Date paid"), h("dd", {}, when(inv.date_paid)),
            h("dt", {}, "Total"), h("dd", {}, money(inv.total, cur)),
            h("dt", {}, "Balance"), h("dd", { id: "invoice-balance" }, h("strong", {}, money(inv.balance, cur))))),
        owedCard(main, ctx, inv, order),
        paymentCard(main, ctx, inv, order, once))));
}

/** Refunds recorded but not paid back yet (billing confirms each with its reference). */
function owedCard(main, ctx, inv, order) {
  const owed = inv.transactions.filter((t) => t.type === "refund" && t.state === "owed");
  if (!owed.length) return null;
  const reload = async () => {
    const fresh = await api.get(`/invoices/${inv.id}`, null, { signal: ctx.signal });
    draw(main, ctx, fresh, order, new Once());
    document.querySelector("h1")?.focus();
  };
  const clientName = order ? order.client.name : null;
  return h("section", { class: "card card-attention", id: "owed-refunds", "aria-labelledby": "owed-title" },
    h("h2", { id: "owed-title" }, "Refund owed"),
    h("p", {}, "No gateway paid this back: pay it by hand, then confirm it with the payment's reference."),
    h("ul", { class: "attention-list" }, owed.map((t) => h("li", {},
      h("strong", {}, `${money(t.amount, inv.currency)} via ${t.gateway}`), " ", when(t.at),
      session.can("billing")
        ? confirmForm({ refund_id: t.id, invoice_id: inv.id, amount: t.amount, currency: inv.currency, client_name: clientName },
          { onDone: reload })
        : h("p", { class: "muted" }, "Confirming needs the billing role.")))));
}

function total(label, amount, cur, id) {
  return h("tr", { id: id ? `total-${id}` : null }, h("td", { class: "num" }, label), h("td", { class: "num" }, money(amount, cur)));
}

function paymentCard(main, ctx, inv, order, once) {
  if (!session.can("billing")) return null;
  if (!OPEN.has(inv.status) || Number(inv.balance) <= 0) {
    return h("section", { class: "card", "aria-labelledby": "pay-title" },
      h("h2", { id: "pay-title" }, "Record a payment"),
      h("p", { class: "muted" }, `Nothing to collect: the invoice is ${inv.status} with a balance of ${money(inv.balance, inv.currency)}.`));
  }
  const amount = h("input", { name: "amount", id: "pay-amount", value: inv.balance, inputmode: "decimal", required: true, autocomplete: "off" });
  const gateway = h("input", { name: "gateway", id: "pay-gateway", value: inv.payment_method, required: true, maxlength: "40", list: "gateways" });
  const txid = h("input", { name: "transaction_id", id: "pay-txid", required: true, maxlength: "200", autocomplete: "off" });
  const slot = h("div", { class: "form-errors" });
  const form = h("form", { id: "payment-form", novalidate: true }, slot,
    h("div", { class: "grid-form", style: "grid-template-columns:1fr" },
      field(`Amount (${inv.currency})`, amount, { name: "amount", hint: `Balance due: ${inv.balance}` }),
      field("Gateway", gateway, { name: "gateway" }),
      field("Transaction ID", txid, { name: "transaction_id", hint: "The gateway's reference for this payment" })),
    h("datalist", { id: "gateways" }, ["manual", "stripe", "paypal", "banktransfer", "credit"].map((g) => h("option", { value: g }))),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn btn-primary", id: "pay-submit" }, "Record payment")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = { amount: amount.value.trim(), gateway: gateway.value.trim(), transaction_id: txid.value.trim() };
    let updated;
    try {
      updated = await busy(document.getElementById("pay-submit"),
        () => api.post(`/invoices/${inv.id}/payments`, body, { idempotencyKey: once.key(body) }), "Recording…");
    } catch (err) {
      showErrors(form, err);
      return;
    }
    draw(main, ctx, updated, order, new Once());
    toast(`Payment of ${money(body.amount, inv.currency)} recorded. Invoice is ${updated.status}.`);
    document.querySelector("h1")?.focus();
  });
  return h("section", { class: "card", "aria-labelledby": "pay-title" }, h("h2", { id: "pay-title" }, "Record a payment"), form);
}
