// A client's fields, for adding one (Clients, Add New Order's inline client) and editing one: the
// controls, and the body POST /clients or PUT /clients/{id} takes from them.

import { field, h } from "./ui.js";

const FIELDS = [
  // [API name, label, props, wide]
  ["first_name", "First name", { maxlength: "200", autocomplete: "off", required: true }],
  ["last_name", "Last name", { maxlength: "200", autocomplete: "off", required: true }],
  ["email", "Email", { type: "email", maxlength: "254", autocomplete: "off", spellcheck: "false", required: true }, true],
  ["company", "Company", { maxlength: "200", autocomplete: "off" }],
  ["country", "Country", { maxlength: "2", pattern: "[A-Za-z]{2}", placeholder: "GB", autocomplete: "off", required: true }],
  ["phone", "Phone", { type: "tel", maxlength: "40", autocomplete: "off" }],
  ["address", "Address", { maxlength: "500", autocomplete: "off" }, true],
];
// may be cleared on an edit (null); the others may only change
const CLEARABLE = new Set(["company", "address", "phone"]);
const HINTS = { country: "Two letters (ISO 3166), e.g. GB, US, DE" };

/** The labelled controls, filled from `client` when editing; `prefix` keeps ids apart. */
export function clientFields(client = null, { prefix = "client" } = {}) {
  const controls = {};
  const fields = FIELDS.map(([name, label, props, wide]) => {
    const input = h("input", { ...props, name, id: `${prefix}-${name.replace("_", "-")}`, value: client?.[name] ?? "" });
    controls[name] = input;
    return field(label, input, { name, wide, hint: HINTS[name] });
  });
  return { controls, element: h("div", { class: "grid-form" }, fields) };
}

/** A new client's body: every field given (empty optional ones left out). */
export function newClientBody(controls) {
  const out = {};
  for (const [name] of FIELDS) {
    const value = controls[name].value.trim();
    if (value) out[name] = name === "country" ? value.toUpperCase() : value;
  }
  return out;
}

/** An edit's body: only what changed; an emptied optional field is cleared with null. */
export function clientChanges(client, controls) {
  const out = {};
  for (const [name] of FIELDS) {
    let value = controls[name].value.trim();
    if (name === "country") value = value.toUpperCase();
    const before = client[name] ?? "";
    if (value === before) continue;
    if (!value && CLEARABLE.has(name)) out[name] = null;
    else out[name] = value;
  }
  return out;
}

export function clientLabel(c) {
  return `${c.first_name} ${c.last_name}${c.company ? ` (${c.company})` : ""}`;
}
