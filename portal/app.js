// OrderDesk admin portal: sign-in, hash routing, and the page chrome. Screens live in their
// own modules (dashboard.js, orders.js, order.js, invoice.js, new-order.js, clients.js, ...),
// loaded on first use.

import { api, ApiError, localSignIn, onUnauthorized, portalConfig, session } from "./api.js";
import { errorBox, field, h, replace, toast } from "./ui.js";

const main = document.getElementById("main");
const RETURN_KEY = "orderdesk.return";
const STATE_KEY = "orderdesk.oauth_state";
const VERIFIER_KEY = "orderdesk.pkce_verifier";

// [pattern, module, nav item, the role a screen needs (the API checks again)]
const ROUTES = [
  [/^\/$/, () => import("./dashboard.js"), "home"],
  [/^\/orders$/, () => import("./orders.js"), "orders"],
  [/^\/orders\/new$/, () => import("./new-order.js"), "new", "support"],
  [/^\/orders\/([A-Za-z0-9_-]+)$/, () => import("./order.js"), "orders"],
  [/^\/invoices\/([A-Za-z0-9_-]+)$/, () => import("./invoice.js"), "orders"],
  [/^\/clients$/, () => import("./clients.js"), "clients"],
  [/^\/clients\/([A-Za-z0-9_-]+)$/, () => import("./client.js"), "clients"],
  [/^\/affiliates$/, () => import("./affiliates.js"), "affiliates"],
  [/^\/servers$/, () => import("./servers.js"), "servers"],
  [/^\/refunds$/, () => import("./refunds.js"), "refunds", "billing"],
  [/^\/activity$/, () => import("./activity.js"), "activity"],
];
// nav items a role below this one does not see
const NAV_ROLE = { new: "support", refunds: "billing" };

let config = { cognito: null };
let localRoles = null; // the local stack's sign-in offers these roles (null: not the local stack)
let current = null; // { mod, path, ctx, controller }
let navigated = false; // the first screen of a page load keeps focus at the top (skip link first)

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const at = raw.indexOf("?");
  const path = at < 0 ? raw : raw.slice(0, at);
  return { path: path || "/", query: new URLSearchParams(at < 0 ? "" : raw.slice(at + 1)) };
}

function teardown() {
  if (!current) return;
  current.controller.abort();
  current = null;
}

function showChrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (signedIn) {
    document.getElementById("who-name").textContent = session.name();
    document.getElementById("who-role").textContent = session.role() || "no role";
    for (const [item, role] of Object.entries(NAV_ROLE)) {
      document.querySelector(`[data-nav="${item}"]`).hidden = !session.can(role);
    }
  }
}

function markNav(item) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === item) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function focusHeading() {
  if (!navigated) {
    navigated = true;
    return;
  }
  const h1 = main.querySelector("h1");
  if (h1) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  } else {
    main.focus({ preventScroll: true });
  }
}

async function route() {
  const { path, query } = parseHash();
  if (!session.token() || session.expired()) {
    const hadToken = Boolean(session.token());
    session.clear();
    sessionStorage.setItem(RETURN_KEY, location.hash || "#/");
    renderSignIn(hadToken ? "Your session has expired. Sign in again." : null);
    return;
  }
  showChrome(true);
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found) {
    teardown();
    markNav(null);
    replace(main, h("h1", {}, "Page not found"), h("p", {}, "There is nothing at this address. ",
      h("a", { href: "#/orders" }, "Go to the orders list"), "."));
    document.title = "Not found · OrderDesk";
    focusHeading();
    return;
  }
  const [re, load, nav, needs] = found;
  const params = path.match(re).slice(1);
  markNav(nav);
  if (needs && !session.can(needs)) {
    teardown();
    replace(main, h("h1", {}, "Not for your role"), h("p", {},
      `This screen needs the ${needs} role; you are signed in as ${session.role() || "no role"}. `,
      h("a", { href: "#/" }, "Go to the dashboard"), "."));
    document.title = "Not for your role · OrderDesk";
    focusHeading();
    return;
  }
  let mod;
  try {
    mod = await load();
  } catch (err) {
    replace(main, errorBox({ message: `The portal could not load this screen (${err.message}). Reload the page.` }));
    return;
  }
  // Same screen, other query (filters, paging): the screen refreshes in place, focus stays put.
  if (current && current.mod === mod && current.path === path && mod.update) {
    current.ctx.query = query;
    await mod.update(current.ctx);
    return;
  }
  teardown();
  const controller = new AbortController();
  const ctx = {
    params,
    query,
    signal: controller.signal,
    title: (text) => {
      document.title = text ? `${text} · OrderDesk` : "OrderDesk";
    },
  };
  current = { mod, path, ctx, controller };
  replace(main, h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    await mod.render(main, ctx);
    if (!controller.signal.aborted) focusHeading();
  } catch (err) {
    if (controller.signal.aborted || err.name === "AbortError") return;
    if (!(err instanceof ApiError)) console.error(err);
    if (err instanceof ApiError && err.status === 401) return; // the sign-in screen is already up
    replace(main, h("h1", {}, "This page could not be shown"), errorBox(err),
      h("p", {}, h("a", { href: "#/orders" }, "Back to the orders list")));
    focusHeading();
  }
}

// -- sign-in -----------------------------------------------------------------------------------

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Where the hosted UI sends the operator back, and the redirect_uri the code is redeemed with. */
function redirectUri() {
  return location.origin + location.pathname;
}

/** The authorization code grant with PKCE: the hosted UI answers with a one-time code (useless
 * without this tab's verifier), never with a token in the URL. */
async function hostedUiUrl() {
  const { domain, client_id: clientId } = config.cognito;
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(STATE_KEY, state);
  sessionStorage.setItem(VERIFIER_KEY, verifier);
  const params = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    scope: "openid email profile",
    redirect_uri: redirectUri(),
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `${domain}/oauth2/authorize?${params}`;
}

function hostedUiLink() {
  const link = h("a", { class: "btn btn-primary", href: `${config.cognito.domain}/oauth2/authorize`, id: "cognito-sign-in" },
    "Sign in with Cognito");
  link.addEventListener("click", async (event) => {
    event.preventDefault();
    location.assign(await hostedUiUrl());
  });
  return link;
}

function renderSignIn(message, { error = false } = {}) {
  teardown();
  showChrome(false);
  markNav(null);
  document.title = "Sign in · OrderDesk";
  const slot = h("div", { class: "form-errors" });
  const input = h("textarea", {
    name: "token", required: true, spellcheck: "false", autocomplete: "off", autocapitalize: "off",
    placeholder: "eyJhbGciOiJSUzI1NiIs…",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  const form = h("form", { novalidate: true }, slot,
    field("Access token (JWT)", input, {
      hint: "Locally: run “make token ROLE=admin” or copy .local/admin.token. "
        + "The token is kept in this browser tab only, until you sign out or close it.",
    }),
    h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    const problem = token ? session.problem(token) : "Paste a token first.";
    if (problem) {
      slot.replaceChildren(errorBox({ message: problem }, { title: "This token cannot be used." }));
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    submit.disabled = true;
    session.set(token);
    try {
      await api.get("/order-statuses"); // proves the API accepts it before going on
    } catch (err) {
      session.clear();
      submit.disabled = false;
      slot.replaceChildren(errorBox(err, { title: err.status === 401 ? "The API rejected this token." : undefined }));
      slot.firstChild.focus();
      return;
    }
    finishSignIn();
  });
  const local = localRoles ? localButtons(slot) : null;
  replace(main, h("section", { class: "signin card", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in to OrderDesk"),
    message ? h("div", { class: `alert ${error ? "alert-error" : "alert-info"}`, role: "status" }, message) : null,
    config.cognito ? [
      h("p", {}, hostedUiLink()),
      h("p", { class: "or" }, "or paste a token"),
    ] : null,
    local ? [local, h("p", { class: "or" }, "or paste a token")] : null,
    form));
  (config.cognito ? document.getElementById("cognito-sign-in") : local ? local.querySelector("button") : input).focus();
}

/** The local stack's "Sign in locally as …" buttons: its gateway signs a token for the role. */
function localButtons(slot) {
  return h("div", { class: "local-sign-in", role: "group", "aria-labelledby": "local-title" },
    h("h2", { id: "local-title" }, "Local stack"),
    h("p", { class: "muted" }, "Sign in with a token the local stack signs for the role (valid 12 hours)."),
    h("div", { class: "btn-row" }, localRoles.map((role) => h("button", {
      type: "button", class: `btn${role === "admin" ? " btn-primary" : ""}`, dataset: { role },
      onclick: async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          session.set(await localSignIn.token(role));
        } catch (err) {
          button.disabled = false;
          slot.replaceChildren(errorBox(err, { title: "Local sign-in failed." }));
          slot.firstChild.focus();
          return;
        }
        finishSignIn();
      },
    }, `Sign in locally as ${role}`))));
}

function finishSignIn() {
  const back = sessionStorage.getItem(RETURN_KEY) || "#/";
  sessionStorage.removeItem(RETURN_KEY);
  history.replaceState(null, "", location.pathname + location.search + back);
  route();
}

/** The hosted UI comes back with ?code=…&state=…: redeemed at the token endpoint with this tab's
 * verifier for the ID token the API takes. */
async function takeHostedUiReturn() {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  const expected = sessionStorage.getItem(STATE_KEY);
  const verifier = sessionStorage.getItem(VERIFIER_KEY);
  sessionStorage.removeItem(STATE_KEY);
  sessionStorage.removeItem(VERIFIER_KEY);
  history.replaceState(null, "", location.pathname + location.hash); // the code leaves the address bar
  if (query.has("error")) {
    renderSignIn(`Cognito sign-in failed: ${query.get("error_description") || query.get("error")}`, { error: true });
    return true;
  }
  if (!expected || !verifier || query.get("state") !== expected) {
    renderSignIn("The sign-in answer did not match this tab's request; please sign in again.", { error: true });
    return true;
  }
  try {
    const resp = await fetch(`${config.cognito.domain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: config.cognito.client_id,
        code: query.get("code"),
        redirect_uri: redirectUri(),
        code_verifier: verifier,
      }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok || !body.id_token) throw new Error(body.error_description || body.error || `HTTP ${resp.status}`);
    session.set(body.id_token);
  } catch (err) {
    renderSignIn(`Cognito sign-in failed: ${err.message}`, { error: true });
    return true;
  }
  finishSignIn();
  return true;
}

function signOut() {
  session.clear();
  if (config.cognito) {
    const params = new URLSearchParams({ client_id: config.cognito.client_id, logout_uri: location.origin + location.pathname });
    location.assign(`${config.cognito.domain}/logout?${params}`);
    return;
  }
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  renderSignIn("You have signed out.");
}

onUnauthorized(() => {
  if (!session.token()) return;
  session.clear();
  sessionStorage.setItem(RETURN_KEY, location.hash || "#/");
  renderSignIn("Your session has ended or the API no longer accepts this token. Sign in again.", { error: true });
  toast("Signed out: the API answered 401.", { error: true });
});

document.getElementById("sign-out").addEventListener("click", signOut);
document.querySelector("[data-skip]").addEventListener("click", (event) => {
  event.preventDefault(); // the fragment is the router's: move focus instead
  main.focus();
});

async function start() {
  config = await portalConfig();
  if (!config.cognito) localRoles = await localSignIn.roles();
  if (await takeHostedUiReturn()) {
    window.addEventListener("hashchange", route);
    return;
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
