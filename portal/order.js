// Order details: reference information, items (with the accept fields while pending), fraud
// check results, notes, history, and the action buttons with live progress of the workflow.

import { api, Once, session } from "./api.js";
import { accountCell, attentionCard, commandButtons, welcomeAgain } from "./order-care.js";
import { registrarSelect, registrars } from "./registrars.js";
import {
  ACTION_LABELS, badge, busy, checkbox, clearErrors, confirmDialog, errorBox, field, h, humanize, money, replace, select,
  showErrors, sleep, toast, when,
} from "./ui.js";

// Who may press what (the roles of docs/api.md); the API checks again.
const ACTION_ROLE = { accept: "support", pending: "support", cancel: "billing", cancel_refund: "billing", fraud: "billing", delete: "admin" };
const ACTION_ORDER = ["accept", "cancel", "cancel_refund", "fraud", "pending", "delete"];
const ACTION_DONE = {
  accept: "Order accepted.", cancel: "Order cancelled.", cancel_refund: "Order cancelled and refunded.",
  fraud: "Order set as fraud.", pending: "Order set back to Pending.",
};

export async function render(main, ctx) {
  const page = new OrderPage(main, ctx, ctx.params[0]);
  await page.load();
}

class OrderPage {
  constructor(main, ctx, id) {
    this.main = main;
    this.ctx = ctx;
    this.id = id;
    this.servers = null;
    this.affiliates = null;
    this.live = null; // the action being watched
    this.once = { accept: new Once(), action: new Once(), note: new Once(), check: new Once() };
    this.editingAffiliate = false;
  }

  get signal() {
    return this.ctx.signal;
  }

  async load() {
    const order = await api.get(`/orders/${this.id}`, null, { signal: this.signal });
    if (this.signal.aborted) return;
    this.order = order;
    if (this.acceptable() && this.servers === null) {
      [this.servers, this.registrars] = await Promise.all([
        api.get("/servers", null, { signal: this.signal }).then((r) => r.servers).catch(() => []),
        this.order.items.some((i) => i.kind === "domain") ? registrars(this.signal) : [],
      ]);
    }
    this.draw();
    const running = order.pending_action;
    if (running && (!this.live || this.live.id !== running.action_id)) {
      this.watch(running.action_id, running.type);
    }
  }

  acceptable() {
    return this.order.available_actions.includes("accept") && session.can("support");
  }

  /** Re-render everything, keeping focus on the same control when it still exists. */
  draw() {
    const o = this.order;
    const focusedId = document.activeElement && this.main.contains(document.activeElement) ? document.activeElement.id : null;
    this.ctx.title(`Order #${o.number}`);
    replace(this.main,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/orders" }, "Orders"), " › ", `Order #${o.number}`),
      h("div", { class: "page-head" },
        h("h1", {}, `Order #${o.number}`), badge(o.status),
        o.flagged_for_review ? badge("review", "Flagged for review") : null),
      attentionCard(this),
      h("div", { class: "detail" },
        h("div", {},
          this.referenceCard(),
          this.itemsCard(),
          this.fraudCard(),
          this.notesCard(),
          this.historyCard()),
        h("aside", { class: "side", "aria-label": "Order actions and invoice" },
          this.actionsCard(),
          this.invoiceCard())));
    if (focusedId) document.getElementById(focusedId)?.focus({ preventScroll: true });
  }

  // -- reference information ------------------------------------------------------------------

  referenceCard() {
    const o = this.order;
    const c = o.client;
    return h("section", { class: "card", "aria-labelledby": "ref-title" },
      h("h2", { id: "ref-title" }, "Order information"),
      h("div", { class: "facts-2" },
        h("dl", { class: "facts" },
          h("dt", {}, "Date placed"), h("dd", {}, when(o.placed_at)),
          h("dt", {}, "Client"), h("dd", { id: "client-info" },
            h("strong", {}, c.name), c.company ? h("div", {}, c.company) : null,
            h("div", {}, h("a", { href: `mailto:${c.email}` }, c.email)),
            h("div", { class: "muted" }, `Country: ${c.country}`),
            h("a", { href: `#/orders?client_id=${encodeURIComponent(c.id)}` }, "All orders from this client")),
          h("dt", {}, "IP address"), h("dd", {}, o.ip_address
            ? h("a", { href: `#/orders?ip_address=${encodeURIComponent(o.ip_address)}`, class: "mono",
              title: "Orders from this IP address" }, o.ip_address)
            : h("span", { class: "muted" }, "Not recorded"))),
        h("dl", { class: "facts" },
          h("dt", {}, "Promotion code"), h("dd", {}, o.promo_code ? h("code", {}, o.promo_code) : h("span", { class: "muted" }, "None")),
          h("dt", {}, "Discount"), h("dd", {}, money(o.discount, o.currency)),
          h("dt", {}, "Payment method"), h("dd", {}, o.payment_method),
          h("dt", {}, "Total due"), h("dd", {}, h("strong", {}, money(o.total, o.currency)), " ", badge(o.payment_status)),
          h("dt", {}, "Invoice"), h("dd", {}, h("a", { href: `#/invoices/${o.invoice_id}`, id: "invoice-link" }, `Invoice ${o.invoice_id}`),
            o.invoice ? [" ", badge(o.invoice.status)] : null),
          h("dt", {}, "Affiliate"), h("dd", { id: "affiliate" }, this.affiliateField()))));
  }

  affiliateField() {
    const o = this.order;
    const current = o.affiliate ? h("span", {}, o.affiliate.name) : h("span", { class: "muted" }, "None");
    if (!session.can("support")) return current;
    if (!this.editingAffiliate) {
      return [current, " ", h("button", {
        type: "button", class: "btn-link btn", id: "assign-affiliate",
        onclick: async () => {
          this.affiliates ??= await api.get("/affiliates", null, { signal: this.signal }).then((r) => r.affiliates);
          this.editingAffiliate = true;
          this.draw();
          document.getElementById("affiliate-select").focus();
        },
      }, "Assign manually")];
    }
    const sel = select([["", "No affiliate"], ...this.affiliates.map((a) => [a.id, a.name])],
      { id: "affiliate-select", value: o.affiliate?.id || "" });
    const slot = h("div", { class: "form-errors" });
    const form = h("form", { class: "inline-form" },
      h("label", { htmlFor: "affiliate-select", class: "visually-hidden" }, "Affiliate"), sel,
      h("button", { type: "submit", class: "btn btn-small btn-primary", id: "save-affiliate" }, "Save"),
      h("button", { type: "button", class: "btn btn-small", onclick: () => {
        this.editingAffiliate = false;
        this.draw();
        document.getElementById("assign-affiliate")?.focus();
      } }, "Cancel"), slot);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        this.order = await busy(form.querySelector("[type=submit]"),
          () => api.put(`/orders/${this.id}/affiliate`, { affiliate_id: sel.value || null }));
      } catch (err) {
        showErrors(form, err);
        return;
      }
      this.editingAffiliate = false;
      this.draw();
      toast(this.order.affiliate ? `Affiliate set to ${this.order.affiliate.name}.` : "Affiliate removed.");
      document.getElementById("assign-affiliate")?.focus();
    });
    return form;
  }

  // -- items and the accept form --------------------------------------------------------------

  itemsCard() {
    const o = this.order;
    const accepting = this.acceptable();
    const rows = [];
    for (const item of o.items) {
      rows.push(h("tr", { dataset: { itemId: item.id } },
        h("td", {},
          h("strong", {}, item.description),
          item.domain ? h("div", {}, h("span", { class: "mono" }, item.domain),
            ` · ${item.registration_type === "transfer" ? "Transfer" : "Register"}, ${item.period_years} year${item.period_years === 1 ? "" : "s"}`) : null,
          h("div", { class: "muted" }, [humanize(item.kind), item.billing_cycle,
            item.server_id ? `server ${this.serverName(item.server_id)}` : null,
            item.username ? `user ${item.username}` : null,
            item.registrar && item.registrar !== "none" ? `registrar ${item.registrar}` : null].filter(Boolean).join(" · ")),
          item.last_error ? h("div", { class: "item-error", role: "note" }, `Last error: ${item.last_error}`) : null,
          commandButtons(this, item)),
        h("td", { class: "num" }, money(item.amount, o.currency)),
        h("td", {}, badge(item.status)),
        h("td", {}, accountCell(item)),
        h("td", {}, badge(item.payment_status))));
      if (accepting && item.status === "Pending") rows.push(this.acceptRow(item));
    }
    const table = h("table", { id: "items-table" },
      h("caption", { class: "visually-hidden" }, "Order items"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Item"), h("th", { scope: "col", class: "num" }, "Amount"),
        h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Account"),
        h("th", { scope: "col" }, "Payment status"))),
      h("tbody", {}, rows));
    const body = accepting ? this.acceptForm(table) : h("div", { class: "table-wrap" }, table);
    return h("section", { class: "card", "aria-labelledby": "items-title" },
      h("h2", { id: "items-title" }, "Order items"), body);
  }

  serverName(id) {
    return (this.servers || []).find((s) => s.id === id)?.name || id;
  }

  acceptRow(item) {
    const pre = `items.${item.id}.`;
    const forItem = h("span", { class: "visually-hidden" }, ` for ${item.domain || item.description}`);
    const label = (text) => [text, forItem.cloneNode(true)];
    let fields;
    if (item.kind === "domain") {
      fields = [
        field(label("Registrar"), registrarSelect(this.registrars || [], { name: `${pre}registrar`, value: item.registrar }),
          { name: `${pre}registrar` }),
        h("div", { class: "field" }, checkbox(label("Send to registrar"), { name: `${pre}send_to_registrar`, checked: true })),
      ];
    } else {
      const servers = [["", "None (no module command)"], ...(this.servers || []).map((s) => [s.id, `${s.name} (${s.module})`])];
      fields = [
        field(label("Server"), select(servers, { name: `${pre}server_id`, value: item.server_id || "" }), { name: `${pre}server_id` }),
        field(label("Username"), h("input", { name: `${pre}username`, value: item.username || "", autocomplete: "off", maxlength: "32", spellcheck: "false" }),
          { name: `${pre}username`, hint: "a–z, 0–9 and _, starting with a letter" }),
        field(label("Password"), h("input", { type: "password", name: `${pre}password`, autocomplete: "new-password", maxlength: "128" }),
          { name: `${pre}password`, hint: item.has_password ? "One is stored; leave empty to keep it" : "8+ characters; stored encrypted, never shown" }),
        h("div", { class: "field" }, checkbox(label("Run module create"), { name: `${pre}run_module_create`, checked: true })),
      ];
    }
    return h("tr", { class: "accept-fields", dataset: { acceptFor: item.id } },
      h("td", { colspan: "5" }, h("div", { class: "accept-grid", role: "group", "aria-label": `Accept settings for ${item.domain || item.description}` }, fields)));
  }

  acceptForm(table) {
    const slot = h("div", { class: "form-errors" });
    const form = h("form", { id: "accept-form", novalidate: true, "aria-labelledby": "items-title" },
      slot,
      h("div", { class: "table-wrap" }, table),
      h("div", { class: "form-actions" },
        checkbox("Send welcome email", { name: "send_welcome_email", checked: true, id: "send-welcome" }),
        h("span", { class: "spacer", style: "flex:1" }),
        h("button", { type: "submit", class: "btn btn-primary", id: "accept-submit" }, "Accept Order")));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.accept(form);
    });
    return form;
  }

  acceptBody(form) {
    const items = {};
    for (const item of this.order.items) {
      if (item.status !== "Pending") continue;
      const pre = `items.${item.id}.`;
      const val = (name) => form.elements.namedItem(pre + name);
      const out = {};
      if (item.kind === "domain") {
        if (val("registrar")?.value.trim()) out.registrar = val("registrar").value.trim();
        out.send_to_registrar = Boolean(val("send_to_registrar")?.checked);
      } else {
        if (val("server_id")?.value) out.server_id = val("server_id").value;
        if (val("username")?.value.trim()) out.username = val("username").value.trim();
        if (val("password")?.value) out.password = val("password").value;
        out.run_module_create = Boolean(val("run_module_create")?.checked);
      }
      items[item.id] = out;
    }
    return { items, send_welcome_email: Boolean(form.elements.namedItem("send_welcome_email")?.checked) };
  }

  async accept(form) {
    clearErrors(form);
    const body = this.acceptBody(form);
    const button = document.getElementById("accept-submit");
    let result;
    try {
      result = await busy(button, () => api.post(`/orders/${this.id}/accept`, body, { idempotencyKey: this.once.accept.key(body) }),
        "Accepting…");
    } catch (err) {
      showErrors(form, err);
      if (err.status === 409) await this.load();
      return;
    }
    this.once.accept.settled();
    this.started(result.action, "accept");
  }

  // -- actions -------------------------------------------------------------------------------

  actionsCard() {
    const o = this.order;
    const allowed = ACTION_ORDER.filter((a) => o.available_actions.includes(a));
    const mine = allowed.filter((a) => session.can(ACTION_ROLE[a]));
    const buttons = mine.map((a) => h("button", {
      type: "button",
      id: `action-${a}`,
      class: `btn ${a === "accept" ? "btn-primary" : a === "delete" || a === "fraud" ? "btn-danger-outline" : ""}`,
      onclick: (e) => this.runAction(a, e.currentTarget),
    }, ACTION_LABELS[a]));
    this.actionError = h("div", { id: "action-error" });
    let note = null;
    if (o.pending_action) {
      note = h("p", { class: "muted" }, `${ACTION_LABELS[o.pending_action.type] || humanize(o.pending_action.type)} is running; `
        + "other actions wait until it finishes.");
    } else if (!allowed.length) {
      note = h("p", { class: "muted" }, "No action is available for an order in this status.");
    } else if (!mine.length) {
      note = h("p", { class: "muted" }, `Your role (${session.role() || "none"}) cannot change this order.`);
    }
    this.progress = h("div", { id: "action-progress" });
    this.drawProgress();
    return h("section", { class: "card", "aria-labelledby": "actions-title" },
      h("h2", { id: "actions-title" }, "Actions"),
      this.actionError,
      note,
      buttons.length ? h("div", { class: "actions-list" }, buttons) : null,
      welcomeAgain(this),
      this.progress);
  }

  async runAction(type, button) {
    const o = this.order;
    this.actionError.replaceChildren();
    if (type === "accept") {
      const form = document.getElementById("accept-form");
      if (form) {
        form.requestSubmit();
        return;
      }
    }
    const confirmation = this.confirmation(type);
    if (confirmation && !(await confirmDialog(confirmation))) return;
    try {
      if (type === "delete") {
        await busy(button, () => api.del(`/orders/${this.id}`));
        toast(`Order #${o.number} deleted.`);
        location.hash = "#/orders";
        return;
      }
      if (type === "pending") {
        this.order = await busy(button, () => api.post(`/orders/${this.id}/pending`, {}, { idempotencyKey: this.once.action.key({ type, at: o.history.length }) }));
        this.once.action.settled();
        this.draw();
        toast(ACTION_DONE.pending);
        return;
      }
      const path = type === "accept" ? "accept" : type === "fraud" ? "fraud" : "cancel";
      const body = type === "cancel" ? { refund: false } : type === "cancel_refund" ? { refund: true } : {};
      const result = await busy(button, () => api.post(`/orders/${this.id}/${path}`, body,
        { idempotencyKey: this.once.action.key({ type, at: o.history.length }) }));
      this.once.action.settled();
      this.started(result.action, type);
    } catch (err) {
      this.actionError.replaceChildren(errorBox(err));
      this.actionError.firstChild.focus();
      if (err.status === 409) {
        await this.load();
        this.actionError.replaceChildren(errorBox(err));
      }
    }
  }

  confirmation(type) {
    const o = this.order;
    const n = `order #${o.number}`;
    const paid = o.invoice ? Number(o.invoice.total) - Number(o.invoice.balance) : 0;
    switch (type) {
      case "cancel":
        return { title: `Cancel ${n}?`, confirmLabel: "Cancel order", danger: true,
          body: h("p", {}, "Active products are terminated on their servers (accounts removed), every item becomes Cancelled and the invoice is cancelled. No payment is refunded.") };
      case "cancel_refund":
        return { title: `Cancel and refund ${n}?`, confirmLabel: "Cancel & refund", danger: true,
          body: [h("p", {}, "As Cancel, and every payment on the invoice is refunded through the gateway that took it; the invoice becomes Refunded."),
            h("p", {}, h("strong", {}, `Paid so far: ${money(paid.toFixed(2), o.currency)}`))] };
      case "fraud":
        return { title: `Set ${n} as fraud?`, confirmLabel: "Set as fraud", danger: true,
          body: h("p", {}, "Active products are terminated, every item becomes Fraud, the invoice is cancelled and the order is marked Fraud.") };
      case "delete":
        return { title: `Delete ${n}?`, confirmLabel: "Delete for good", danger: true,
          body: [h("p", {}, "The order, its items, its invoice and its history are removed."), h("p", {}, h("strong", {}, "This cannot be undone."))] };
      default:
        return null;
    }
  }

  /** A workflow was accepted (202): show it and follow its steps until it ends. */
  async started(action, type) {
    this.live = action;
    toast(`${ACTION_LABELS[type] || humanize(type)} started.`);
    await this.load();
    this.watch(action.id, type);
  }

  async watch(actionId, type) {
    if (this.watching === actionId) return;
    this.watching = actionId;
    this.liveError = null;
    for (let i = 0; !this.signal.aborted; i++) {
      let action;
      try {
        action = await api.get(`/orders/${this.id}/actions/${actionId}`, null, { signal: this.signal });
      } catch (err) {
        if (err.name === "AbortError") return;
        this.liveError = err;
        this.drawProgress();
        break;
      }
      this.live = action;
      this.drawProgress();
      if (action.status !== "RUNNING") break;
      await sleep(i < 20 ? 700 : 2000, this.signal);
    }
    this.watching = null;
    if (this.signal.aborted) return;
    const done = this.live;
    await this.load();
    // The order's lock is released just after the workflow ends: wait briefly for it.
    for (let i = 0; i < 10 && !this.signal.aborted && this.order.pending_action?.action_id === actionId; i++) {
      await sleep(500, this.signal);
      await this.load();
    }
    if (done && done.status === "SUCCEEDED") toast(ACTION_DONE[done.type || type] || "Done.");
    else if (done && done.status === "FAILED") toast(`${ACTION_LABELS[done.type || type] || "The action"} failed; see the steps.`, { error: true });
  }

  drawProgress() {
    if (!this.progress) return;
    const latest = [...(this.order.actions || [])].sort((a, b) => (a.started_at < b.started_at ? 1 : -1))[0];
    const action = this.live && (!latest || this.live.id === latest.id || this.live.started_at >= latest.started_at) ? this.live : latest;
    const parts = [];
    if (this.liveError) parts.push(errorBox(this.liveError, { title: "The action's progress could not be read." }));
    if (action) {
      const label = ACTION_LABELS[action.type] || humanize(action.type);
      const doneSteps = action.steps.filter((s) => /^(SUCCEEDED|DONE|SKIPPED|OWED)$/i.test(s.status)).length;
      parts.push(
        h("h3", { id: "progress-title" }, action.status === "RUNNING" ? `Running: ${label}` : `Last action: ${label}`),
        h("p", { "aria-live": "polite", id: "progress-summary" }, badge(action.status, humanize(action.status.toLowerCase())), " ",
          action.steps.length ? `${doneSteps} of ${action.steps.length} steps done` : "",
          action.finished_at ? [" · finished ", when(action.finished_at)] : [" · started ", when(action.started_at)]),
        action.steps.length ? h("ol", { class: "steps", "aria-labelledby": "progress-title", id: "action-steps" },
          action.steps.map((s) => h("li", { dataset: { step: s.name, status: s.status } },
            h("span", { class: "step-name" }, this.stepLabel(s.name), s.error ? h("span", { class: "step-error" }, s.error) : null),
            badge(s.status, humanize(String(s.status).toLowerCase()))))) : null,
        action.status === "FAILED" ? h("div", { class: "alert alert-error", role: "alert" },
          h("strong", {}, "The action failed. "), sentence(action.error || "A step failed; see above"),
          " What was done is kept; the order's actions are available again to retry.") : null);
    }
    replace(this.progress, parts); // (skips the absent parts; replaceChildren would print "null")
    if (this.progress.childNodes.length) this.progress.style.marginTop = ".9rem";
  }

  /** "provision:<item id>" → "Provision: Business Hosting"; other targets keep their id. */
  stepLabel(name) {
    const [base, ...rest] = String(name).split(":");
    const target = rest.join(":");
    if (!target) return humanize(base);
    const item = this.order.items.find((i) => i.id === target);
    return item ? `${humanize(base)}: ${item.domain || item.description}` : `${humanize(base)} (${target})`;
  }

  // -- invoice -------------------------------------------------------------------------------

  invoiceCard() {
    const o = this.order;
    const inv = o.invoice;
    return h("section", { class: "card", "aria-labelledby": "inv-title" },
      h("h2", { id: "inv-title" }, "Invoice"),
      inv ? h("dl", { class: "facts" },
        h("dt", {}, "Invoice"), h("dd", {}, h("a", { href: `#/invoices/${inv.id}` }, inv.id)),
        h("dt", {}, "Status"), h("dd", {}, badge(inv.status)),
        h("dt", {}, "Total"), h("dd", {}, money(inv.total, o.currency)),
        h("dt", {}, "Balance"), h("dd", {}, money(inv.balance, o.currency)),
        h("dt", {}, "Due"), h("dd", {}, when(inv.due_date, { day: true })),
        inv.date_paid ? [h("dt", {}, "Paid"), h("dd", {}, when(inv.date_paid))] : null)
        : h("p", { class: "muted" }, "No invoice."),
      inv ? h("p", { style: "margin:.7rem 0 0" }, h("a", { href: `#/invoices/${inv.id}` },
        Number(inv.balance) > 0 && session.can("billing") ? "View invoice and record a payment" : "View invoice")) : null);
  }

  // -- fraud -----------------------------------------------------------------------------------

  fraudCard() {
    const o = this.order;
    const f = o.fraud_check;
    const recheck = session.can("support") ? h("button", {
      type: "button", class: "btn btn-small", id: "fraud-recheck",
      onclick: async (e) => {
        const btn = e.currentTarget;
        try {
          await busy(btn, () => api.post(`/orders/${this.id}/fraud-check`, {}, { idempotencyKey: this.once.check.key({ at: Date.now() }) }), "Checking…");
        } catch (err) {
          btn.closest("section").querySelector(".fraud-error").replaceChildren(errorBox(err));
          return;
        }
        await this.load();
        toast("Fraud check finished.");
      },
    }, f ? "Run the check again" : "Run fraud check") : null;
    const head = h("div", { class: "card-head" }, h("h2", { id: "fraud-title" }, "Fraud check results"), recheck);
    if (!f) {
      return h("section", { class: "card", "aria-labelledby": "fraud-title", id: "fraud" }, head,
        h("div", { class: "fraud-error" }),
        h("p", { class: "muted" }, "No fraud check has run on this order (it was placed with the check skipped, or screening has not finished)."));
    }
    const level = f.score >= 75 ? "high" : f.score >= 25 ? "mid" : "";
    return h("section", { class: "card", "aria-labelledby": "fraud-title", id: "fraud" }, head,
      h("div", { class: "fraud-error" }),
      o.flagged_for_review ? h("div", { class: "alert alert-warn" }, "Flagged for review: the score is above the review threshold. Check the signals before accepting.") : null,
      f.error ? h("div", { class: "alert alert-error" }, h("strong", {}, "The provider reported an error: "), f.error) : null,
      h("dl", { class: "facts" },
        h("dt", {}, "Provider"), h("dd", {}, humanize(f.provider)),
        h("dt", {}, "Score"), h("dd", { class: "score" },
          h("span", { class: "score-bar", "aria-hidden": "true" }, h("span", { class: level, style: `width:${Math.min(100, Math.max(0, f.score))}%` })),
          h("strong", { id: "fraud-score" }, `${f.score} / 100`)),
        h("dt", {}, "Decision"), h("dd", {}, badge(f.decision, humanize(f.decision))),
        h("dt", {}, "Checked"), h("dd", {}, when(f.checked_at))),
      f.signals.length ? h("div", { class: "table-wrap", style: "margin-top:.8rem" }, h("table", { class: "compact", id: "fraud-signals" },
        h("caption", { class: "visually-hidden" }, "Fraud signals"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Signal"), h("th", { scope: "col" }, "Value"),
          h("th", { scope: "col", class: "num" }, "Weight"), h("th", { scope: "col" }, "Triggered"))),
        h("tbody", {}, f.signals.map((s) => h("tr", {},
          h("th", { scope: "row" }, humanize(s.name)),
          h("td", {}, signalValue(s.value)),
          h("td", { class: "num" }, String(s.weight)),
          h("td", {}, s.triggered ? badge("failed", "Triggered") : h("span", { class: "muted" }, "No")))))))
        : h("p", { class: "muted" }, "The provider returned no signals."));
  }

  // -- notes -----------------------------------------------------------------------------------

  notesCard() {
    const o = this.order;
    const notes = [...(o.admin_notes || [])].sort((a, b) => (a.at < b.at ? 1 : -1));
    let form = null;
    if (session.can("support")) {
      const text = h("textarea", { name: "text", id: "note-text", maxlength: "5000", required: true });
      const slot = h("div", { class: "form-errors" });
      form = h("form", { id: "note-form", novalidate: true }, slot,
        field("Add a note", text, { name: "text" }),
        h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn", id: "note-submit" }, "Add note")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearErrors(form);
        const body = { text: text.value.trim() };
        if (!body.text) {
          showErrors(form, { status: 400, message: "Write the note first.", fields: { text: "must not be empty" } });
          return;
        }
        try {
          await busy(document.getElementById("note-submit"), () => api.post(`/orders/${this.id}/notes`, body, { idempotencyKey: this.once.note.key(body) }));
        } catch (err) {
          showErrors(form, err);
          return;
        }
        await this.load();
        toast("Note added.");
        document.getElementById("note-text")?.focus();
      });
    }
    return h("section", { class: "card", "aria-labelledby": "notes-title", id: "notes" },
      h("h2", { id: "notes-title" }, "Notes"),
      o.notes ? [h("h3", {}, "From the client, when ordering"), h("p", { class: "client-notes" }, o.notes)] : null,
      h("h3", {}, "Staff notes"),
      notes.length ? h("ul", { class: "notes-list" }, notes.map((n) => h("li", {},
        h("div", { class: "meta" }, n.author, " · ", when(n.at)), h("div", { style: "white-space:pre-wrap" }, n.text))))
        : h("p", { class: "muted" }, "No staff notes yet."),
      form);
  }

  // -- history ---------------------------------------------------------------------------------

  historyCard() {
    const entries = [...(this.order.history || [])].sort((a, b) => (a.at < b.at ? 1 : -1));
    return h("section", { class: "card", "aria-labelledby": "history-title", id: "history" },
      h("h2", { id: "history-title" }, "History"),
      entries.length ? h("div", { class: "table-wrap" }, h("table", { class: "compact" },
        h("caption", { class: "visually-hidden" }, "Order history, newest first"),
        h("thead", {}, h("tr", {}, ["When", "Who", "What", "Change", "Detail"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, entries.map((e) => h("tr", {},
          h("td", { class: "nowrap" }, when(e.at)),
          h("td", {}, e.actor),
          h("td", {}, humanize(e.action)),
          h("td", { class: "nowrap" }, e.from || e.to ? `${e.from || "—"} → ${e.to || "—"}` : ""),
          h("td", {}, e.detail || "", e.execution ? h("div", { class: "muted mono", title: e.execution }, `run ${shortRun(e.execution)}`) : null))))))
        : h("p", { class: "muted" }, "No history."));
  }
}

function sentence(text) {
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}

function signalValue(value) {
  if (value === null || value === undefined || value === "") return h("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${humanize(k)}: ${v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : v}`).join("; ");
  }
  return String(value);
}

function shortRun(execution) {
  const parts = String(execution).split(":");
  return parts[parts.length - 1];
}
