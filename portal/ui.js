// Small DOM toolkit: element builder, formatting, form fields with labels and errors,
// confirmation dialogs, toasts. Text always goes in as text (never as HTML).

const PROPS = new Set(["value", "checked", "disabled", "selected", "hidden", "htmlFor", "textContent", "indeterminate",
  "required", "multiple", "readOnly"]);

/** h("a", {href: "#/x", class: "btn", onclick: fn}, "text", child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let seq = 0;
export const uid = (prefix = "f") => `${prefix}-${++seq}`;

// -- formatting ----------------------------------------------------------------------------

const dateFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: "UTC", day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});
const dayFmt = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "2-digit", month: "short", year: "numeric" });

/** A UTC timestamp as `<time>`: "26 Nov 2025, 14:05 UTC" (filters are UTC too). */
export function when(iso, { day = false } = {}) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const d = new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  const text = day ? dayFmt.format(d) : `${dateFmt.format(d)} UTC`;
  return h("time", { datetime: iso, title: iso }, text);
}

const moneyFmts = new Map();
/** Money strings from the API ("12.50") shown in the order's currency. */
export function money(amount, currency = "USD") {
  if (amount === null || amount === undefined) return "—";
  let fmt = moneyFmts.get(currency);
  if (!fmt) {
    try {
      fmt = new Intl.NumberFormat("en-US", { style: "currency", currency, minimumFractionDigits: 2 });
    } catch {
      fmt = { format: (n) => `${n.toFixed(2)} ${currency}` };
    }
    moneyFmts.set(currency, fmt);
  }
  return fmt.format(Number(amount));
}

const slug = (s) => String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-");

export function badge(status, label = status) {
  return h("span", { class: `badge badge-${slug(status)}` }, label);
}

export const ACTION_LABELS = {
  accept: "Accept Order",
  cancel: "Cancel Order",
  cancel_refund: "Cancel & Refund",
  fraud: "Set as Fraud",
  pending: "Set Back to Pending",
  delete: "Delete Order",
  item_command: "Item command",
};

export function humanize(name) {
  const s = String(name).replace(/[_-]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// -- fields and errors ---------------------------------------------------------------------

/**
 * A labelled control. `name` is the API field it feeds (data-field), so a 400's `fields`
 * can be shown next to it.
 */
export function field(label, control, { hint, name, wide } = {}) {
  control.id ||= uid("f");
  if (name) control.dataset.field = name;
  const described = [];
  let hintEl = null;
  if (hint) {
    hintEl = h("span", { class: "hint", id: uid("hint") }, hint);
    described.push(hintEl.id);
  }
  if (described.length) control.setAttribute("aria-describedby", described.join(" "));
  return h("div", { class: `field${wide ? " wide" : ""}` }, h("label", { htmlFor: control.id }, label), control, hintEl);
}

export function checkbox(label, props = {}) {
  const input = h("input", { type: "checkbox", ...props });
  input.id ||= uid("c");
  return h("label", { class: "check", htmlFor: input.id }, input, label);
}

export function select(options, props = {}) {
  const el = h("select", props);
  for (const opt of options) {
    const [value, text] = Array.isArray(opt) ? opt : [opt, opt];
    el.append(h("option", { value }, text));
  }
  if (props.value !== undefined) el.value = props.value;
  return el;
}

/** A plain error box for any failure: the API's message, and every bad field it names. */
export function errorBox(err, { title } = {}) {
  const fields = Object.entries(err.fields || {});
  return h(
    "div",
    { class: "alert alert-error", role: "alert", tabindex: "-1" },
    h("strong", {}, title || errorTitle(err)),
    " ",
    err.message || String(err),
    fields.length ? h("ul", {}, fields.map(([k, v]) => h("li", {}, h("code", {}, k), `: ${v}`))) : null,
  );
}

function errorTitle(err) {
  switch (err.status) {
    case 400: return "Please correct the highlighted fields.";
    case 403: return "Not allowed for your role.";
    case 404: return "Not found.";
    case 409: return err.code === "action_in_progress" ? "Another action is running on this order." : "Conflict.";
    case 413: return "Too much data.";
    case 0: return "Connection problem.";
    default: return err.status ? `Error ${err.status}.` : "Error.";
  }
}

function clearOne(el) {
  el.removeAttribute("aria-invalid");
  const errId = el.dataset.errorId;
  if (errId) {
    document.getElementById(errId)?.remove();
    const rest = (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== errId);
    if (rest.length) el.setAttribute("aria-describedby", rest.join(" "));
    else el.removeAttribute("aria-describedby");
    delete el.dataset.errorId;
  }
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) clearOne(el);
  form.querySelector(".form-errors")?.replaceChildren();
}

/**
 * Show an API error on a form: each named field next to its control, the rest (and the
 * message) in the form's `.form-errors` slot. Focus goes to the first bad control or the box.
 */
export function showErrors(form, err) {
  clearErrors(form);
  const unplaced = {};
  let first = null;
  for (const [name, message] of Object.entries(err.fields || {})) {
    const control = [...form.querySelectorAll("[data-field]")].find((c) => c.dataset.field === name);
    if (!control) {
      unplaced[name] = message;
      continue;
    }
    const msg = h("span", { class: "error", id: uid("err") }, message);
    control.setAttribute("aria-invalid", "true");
    control.dataset.errorId = msg.id;
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), msg.id].filter(Boolean).join(" "));
    (control.closest(".field") || control.parentElement).append(msg);
    control.addEventListener("input", () => clearOne(control), { once: true });
    first ||= control;
  }
  const slot = form.querySelector(".form-errors");
  const box = errorBox({ ...err, message: err.message, fields: unplaced, status: err.status, code: err.code });
  if (slot) slot.replaceChildren(box);
  (first || box).focus();
}

/** Disable a button while `work` runs; returns what it returns. */
export async function busy(button, work, label) {
  const old = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (label) button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (label) button.textContent = old;
  }
}

// -- dialogs and toasts ----------------------------------------------------------------------

/** A modal confirmation; resolves true when confirmed. Escape or Cancel resolves false. */
export function confirmDialog({ title, body, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const cancel = h("button", { type: "button", class: "btn", value: "cancel" }, "Keep it");
    const ok = h("button", { type: "button", class: `btn ${danger ? "btn-danger" : "btn-primary"}` }, confirmLabel);
    const dlg = h(
      "dialog",
      { "aria-labelledby": titleId, class: "confirm" },
      h("div", { class: "dialog-body" }, h("h2", { id: titleId }, title), ...(Array.isArray(body) ? body : [body])),
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    const opener = document.activeElement;
    let result = false;
    cancel.addEventListener("click", () => dlg.close());
    ok.addEventListener("click", () => {
      result = true;
      dlg.close();
    });
    dlg.addEventListener("close", () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    (danger ? cancel : ok).focus(); // a destructive action is never one Enter away
  });
}

export function toast(message, { error = false, ms = 5000 } = {}) {
  const box = document.getElementById("toasts");
  const el = h("div", { class: `toast${error ? " error" : ""}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

/** Wait `ms`, or less if the signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

// "Previous" on a list paged by cursors: the cursors of the pages before this one, kept while
// the filters stay the same (`at` on each load, `forward` before going to the next page).
export class Pager {
  constructor() {
    this.before = [];
    this.filters = "";
  }

  at(filters, cursor) {
    const key = JSON.stringify(filters);
    if (key !== this.filters) {
      this.before = [];
      this.filters = key;
    }
    if (this.before.length && this.before[this.before.length - 1] === cursor) this.before.pop(); // went back a page
  }

  forward(cursor) {
    this.before.push(cursor);
  }

  get previous() {
    return this.before[this.before.length - 1];
  }

  get page() {
    return this.before.length + 1;
  }

  get first() {
    return this.before.length === 0;
  }
}
