// What is real beside what the order says: each item's account on its server, the module commands
// an operator may run on an item (by role and by the item's state: docs/actions.md's table), the
// order's attention list with the fix for each entry, and the welcome email sent again.

import { api, Once, session } from "./api.js";
import { badge, busy, confirmDialog, errorBox, h, toast, when } from "./ui.js";

// who may run which command (the API checks again)
const COMMAND_ROLE = { create: "support", register: "support", suspend: "billing", unsuspend: "billing", terminate: "billing" };
const COMMAND_LABEL = { create: "Create account", register: "Register", suspend: "Suspend", unsuspend: "Unsuspend", terminate: "Terminate" };
const ATTENTION_TITLE = {
  live_service: "Account still live", domain_waiting: "Domain waiting", refund_owed: "Refund owed",
  failed_item: "Last command failed", part_paid: "Part paid",
};

/** The commands an item's state allows (the API's own rule, shown so nobody asks in vain). */
export function commandsFor(item) {
  const domain = item.kind === "domain";
  const live = item.account && item.account.exists;
  const allowed = [];
  if (domain) {
    if (item.status !== "Active") allowed.push("register");
    return allowed;
  }
  if (!live && item.server_id) allowed.push("create");
  if (item.status === "Active") allowed.push("suspend");
  if (item.status === "Suspended") allowed.push("unsuspend");
  if (live) allowed.push("terminate");
  return allowed;
}

/** The item's account, as a badge: live on its server, or none to track. */
export function accountCell(item) {
  if (item.kind === "domain") {
    const reg = item.registration;
    if (!reg || reg.state === "none") return h("span", { class: "muted" }, "—");
    return [badge(reg.state === "active" ? "active" : reg.state === "failed" ? "failed" : "pending",
      `Registration ${reg.state}`), reg.since ? h("div", { class: "muted" }, when(reg.since)) : null];
  }
  return item.account && item.account.exists
    ? badge("active", "Live on server")
    : h("span", { class: "muted" }, item.server_id ? "No account" : "Manual");
}

/** The buttons of one item's commands this operator may run now (none while an action runs). */
export function commandButtons(page, item) {
  if (page.order.pending_action) return null;
  const mine = commandsFor(item).filter((c) => session.can(COMMAND_ROLE[c]));
  if (!mine.length) return null;
  const label = item.domain || item.description;
  return h("div", { class: "item-commands", role: "group", "aria-label": `Commands for ${label}` },
    mine.map((c) => h("button", {
      type: "button", class: `btn btn-small${c === "terminate" ? " btn-danger-outline" : ""}`,
      dataset: { command: c, itemId: item.id },
      onclick: (e) => runCommand(page, c, item, e.currentTarget),
    }, h("span", {}, COMMAND_LABEL[c]), h("span", { class: "visually-hidden" }, ` ${label}`))));
}

async function runCommand(page, command, item, button) {
  const label = item.domain || item.description;
  if (command === "terminate" || command === "suspend") {
    const ok = await confirmDialog({
      title: `${COMMAND_LABEL[command]} ${label}?`, confirmLabel: COMMAND_LABEL[command], danger: true,
      body: h("p", {}, command === "terminate"
        ? "The account is removed from its server and the item becomes Terminated. The order's status is not changed."
        : "The account is suspended on its server and the item becomes Suspended."),
    });
    if (!ok) return;
  }
  page.actionError.replaceChildren();
  try {
    const result = await busy(button, () => api.post(`/orders/${page.id}/item-commands`,
      { command, item_ids: [item.id] },
      { idempotencyKey: page.once.action.key({ command, item: item.id, at: page.order.history.length }) }));
    page.started(result.action, "item_command");
  } catch (err) {
    page.actionError.replaceChildren(errorBox(err));
    page.actionError.firstChild.focus();
    if (err.status === 409) await page.load();
  }
}

/** The attention list, each entry with what fixes it (a command on its item, the invoice). */
export function attentionCard(page) {
  const o = page.order;
  if (!o.attention || !o.attention.length) return null;
  const entries = o.attention.map((a) => {
    const item = a.item_id ? o.items.find((i) => i.id === a.item_id) : null;
    let fix = null;
    if (a.code === "live_service" && item) fix = commandButtons(page, { ...item, status: "_" }) || roleNote("billing");
    else if (a.code === "failed_item" && item) fix = commandButtons(page, item);
    else if (a.code === "domain_waiting" && item) fix = commandButtons(page, item);
    else if (a.code === "refund_owed") {
      fix = h("a", { href: `#/invoices/${o.invoice_id}`, class: "btn btn-small" }, "Confirm the refund on the invoice");
    }
    return h("li", { dataset: { code: a.code, itemId: a.item_id || "" } },
      h("strong", {}, ATTENTION_TITLE[a.code] || a.code, item ? `: ${item.domain || item.description}` : ""),
      h("div", {}, a.message), fix);
  });
  return h("section", { class: "card card-attention", "aria-labelledby": "attention-title", id: "attention" },
    h("h2", { id: "attention-title" }, "Needs attention"), h("ul", { class: "attention-list" }, entries));
}

function roleNote(role) {
  return h("p", { class: "muted" }, `Needs the ${role} role.`);
}

/** "Send the welcome email again" (support), for an order with an Active item: the usual reason is
 * a corrected address, so it goes to the client's current one. */
export function welcomeAgain(page) {
  const o = page.order;
  if (!session.can("support") || o.pending_action || !o.items.some((i) => i.status === "Active")) return null;
  const button = h("button", { type: "button", class: "btn", id: "welcome-again" }, "Send the welcome email again");
  button.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "Send the welcome email again?", confirmLabel: "Send it",
      body: h("p", {}, "It lists the order's active items and goes to the client's current email address."),
    });
    if (!ok) return;
    page.actionError.replaceChildren();
    try {
      // one key per confirmed press: a retried request sends one email, a new press another
      const sent = await busy(button, () => api.post(`/orders/${page.id}/welcome-email`, {},
        { idempotencyKey: new Once().key({ order: page.id }) }), "Sending…");
      toast(`Welcome email sent again to ${sent.sent_to}.`);
      await page.load();
    } catch (err) {
      page.actionError.replaceChildren(errorBox(err, { title: "The welcome email was not sent." }));
      page.actionError.firstChild.focus();
    }
  });
  return h("div", { class: "btn-row welcome-again" }, button);
}
