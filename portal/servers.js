// Servers the provisioning modules act on: the list (viewer), and for admin adding one, editing one
// (credentials write-only: never shown, left blank to keep) and its connection test, which runs the
// module's own check (POST /servers/{id}/test).

import { api, Once, session } from "./api.js";
import { badge, busy, clearErrors, field, h, replace, select, showErrors, toast, when } from "./ui.js";

const MODULES = [["none", "None (manual)"], ["webhook", "Webhook"], ["cpanel", "cPanel / WHM"]];
const NEEDS = {
  none: "Nothing to connect to: accounts are set up by hand.",
  webhook: "Needs the URL and its signing secret (16 characters or more) as credentials.",
  cpanel: "Needs the WHM hostname, its username and an API token as credentials.",
};
const CLEARABLE = ["hostname", "url", "username"];

let view = null;

export async function render(main, ctx) {
  ctx.title("Servers");
  view = { main, ctx, editing: null, results: new Map() };
  await load();
}

async function load(focusId) {
  const { signal } = view.ctx;
  const { servers } = await api.get("/servers", null, { signal });
  if (signal.aborted) return;
  view.servers = servers.sort((a, b) => a.name.localeCompare(b.name));
  draw();
  if (focusId) document.getElementById(focusId)?.focus();
}

function draw() {
  const admin = session.can("admin");
  const rows = view.servers.length ? view.servers.map((s) => row(s, admin))
    : [h("tr", {}, h("td", { colspan: admin ? "7" : "6", class: "empty" }, "No servers yet."))];
  replace(view.main,
    h("div", { class: "page-head" },
      h("h1", {}, "Servers"),
      h("span", { class: "spacer" }),
      admin && !view.editing ? h("button", { type: "button", class: "btn btn-primary", id: "add-server",
        onclick: () => edit("new") }, "Add server") : null),
    admin ? null : h("p", { class: "muted" }, "Adding, editing and testing servers needs the admin role."),
    view.editing ? formCard(view.editing === "new" ? null : view.servers.find((s) => s.id === view.editing)) : null,
    h("section", { class: "card", "aria-labelledby": "servers-title" },
      h("h2", { id: "servers-title" }, `${view.servers.length} server${view.servers.length === 1 ? "" : "s"}`),
      h("div", { class: "table-wrap" }, h("table", { id: "servers-table" },
        h("caption", { class: "visually-hidden" }, "Servers by name"),
        h("thead", {}, h("tr", {}, ["Name", "Module", "Host or URL", "Username", "Credentials", "Added"].map((t) =>
          h("th", { scope: "col" }, t)), admin ? h("th", { scope: "col" }, "Manage") : null)),
        h("tbody", {}, rows)))));
}

function row(s, admin) {
  const none = h("span", { class: "muted" }, "—");
  const result = view.results.get(s.id);
  return h("tr", { dataset: { serverId: s.id } },
    h("td", {}, s.name),
    h("td", {}, MODULES.find(([m]) => m === s.module)?.[1] || s.module),
    h("td", { class: "mono" }, s.url || s.hostname || none),
    h("td", {}, s.username || none),
    h("td", {}, s.has_credentials ? badge("active", "Stored") : h("span", { class: "muted" }, "None")),
    h("td", { class: "nowrap" }, when(s.created_at, { day: true })),
    admin ? h("td", {},
      h("div", { class: "btn-row" },
        h("button", { type: "button", class: "btn btn-small", id: `edit-${s.id}`, onclick: () => edit(s.id) },
          "Edit", h("span", { class: "visually-hidden" }, ` ${s.name}`)),
        h("button", { type: "button", class: "btn btn-small", id: `test-${s.id}`, onclick: (e) => test(s, e.currentTarget) },
          "Test connection", h("span", { class: "visually-hidden" }, ` of ${s.name}`))),
      h("div", { class: "test-result", id: `result-${s.id}`, role: "status" }, result ? resultView(result) : null)) : null);
}

function resultView(r) {
  return [badge(r.ok ? "succeeded" : "failed", r.ok ? "Connected" : "Failed"), " ", h("span", { class: "detail" }, r.detail),
    h("div", { class: "muted" }, "Checked ", when(r.checked_at))];
}

async function test(server, button) {
  let result;
  try {
    result = await busy(button, () => api.post(`/servers/${server.id}/test`, {}, { signal: view.ctx.signal }), "Testing…");
  } catch (err) {
    if (err.name === "AbortError") return;
    result = { ok: false, detail: err.message, checked_at: new Date().toISOString() };
  }
  view.results.set(server.id, result);
  // looked up now: the list may have been drawn again while the check ran
  document.getElementById(`result-${server.id}`)?.replaceChildren(...resultView(result));
}

function edit(id) {
  view.editing = id;
  draw();
  document.getElementById("server-name")?.focus();
}

function closeForm(focusId) {
  view.editing = null;
  draw();
  document.getElementById(focusId)?.focus();
}

function formCard(server) {
  const once = new Once();
  const controls = {
    name: h("input", { name: "name", id: "server-name", maxlength: "200", autocomplete: "off", required: true, value: server?.name || "" }),
    module: select(MODULES, { name: "module", id: "server-module", value: server?.module || "none" }),
    hostname: h("input", { name: "hostname", id: "server-hostname", maxlength: "253", autocomplete: "off", spellcheck: "false",
      placeholder: "whm.example.com", value: server?.hostname || "" }),
    url: h("input", { name: "url", id: "server-url", type: "url", maxlength: "2000", autocomplete: "off", spellcheck: "false",
      placeholder: "https://provision.example.com/hook", value: server?.url || "" }),
    username: h("input", { name: "username", id: "server-username", maxlength: "100", autocomplete: "off", spellcheck: "false",
      value: server?.username || "" }),
    // write-only: never filled in, never read back
    credentials: h("input", { name: "credentials", id: "server-credentials", type: "password", maxlength: "4000",
      autocomplete: "new-password", spellcheck: "false" }),
  };
  const needs = h("p", { class: "hint", id: "module-needs" }, NEEDS[controls.module.value]);
  controls.module.setAttribute("aria-describedby", "module-needs");
  controls.module.addEventListener("change", () => {
    needs.textContent = NEEDS[controls.module.value];
  });
  const credHint = server
    ? (server.has_credentials ? "Stored, never shown. Leave blank to keep them; type new ones to replace them."
      : "None stored. Leave blank to keep none.")
    : "A signing secret, API token or password. Stored encrypted, never shown again.";
  const slot = h("div", { class: "form-errors" });
  const form = h("form", { id: "server-form", novalidate: true, "aria-labelledby": "server-form-title" }, slot,
    h("div", { class: "grid-form" },
      field("Name", controls.name, { name: "name" }),
      h("div", { class: "field" }, h("label", { htmlFor: "server-module" }, "Module"), controls.module, needs),
      field("Hostname", controls.hostname, { name: "hostname" }),
      field("URL", controls.url, { name: "url", wide: true }),
      field("Username", controls.username, { name: "username" }),
      field("Credentials", controls.credentials, { name: "credentials", hint: credHint, wide: true })),
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn btn-primary", id: "server-submit" }, server ? "Save changes" : "Add server"),
      h("button", { type: "button", class: "btn", onclick: () => closeForm(server ? `edit-${server.id}` : "add-server") }, "Cancel")));
  controls.module.dataset.field = "module";
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = server ? changes(server, controls) : created(controls);
    if (server && !Object.keys(body).length) {
      closeForm(`edit-${server.id}`);
      return;
    }
    let saved;
    try {
      saved = await busy(document.getElementById("server-submit"), () => (server
        ? api.put(`/servers/${server.id}`, body, { signal: view.ctx.signal })
        : api.post("/servers", body, { idempotencyKey: once.key(body) })), "Saving…");
    } catch (err) {
      showErrors(form, err);
      return;
    }
    controls.credentials.value = "";
    toast(server ? `Server ${saved.name} saved.` : `Server ${saved.name} added.`);
    view.editing = null;
    view.results.delete(saved.id);
    await load(`edit-${saved.id}`);
  });
  return h("section", { class: "card", id: "server-form-card", "aria-labelledby": "server-form-title" },
    h("h2", { id: "server-form-title" }, server ? `Edit ${server.name}` : "New server"), form);
}

function created(controls) {
  const out = { name: controls.name.value.trim(), module: controls.module.value };
  for (const name of [...CLEARABLE, "credentials"]) {
    const value = name === "credentials" ? controls[name].value : controls[name].value.trim();
    if (value) out[name] = value;
  }
  return out;
}

/** Only what changed; an emptied host, URL or username is cleared (null); blank credentials are kept. */
function changes(server, controls) {
  const out = {};
  const name = controls.name.value.trim();
  if (name !== server.name) out.name = name;
  if (controls.module.value !== server.module) out.module = controls.module.value;
  for (const key of CLEARABLE) {
    const value = controls[key].value.trim();
    if (value !== (server[key] || "")) out[key] = value || null;
  }
  if (controls.credentials.value) out.credentials = controls.credentials.value;
  return out;
}
