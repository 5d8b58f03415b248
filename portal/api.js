// The portal's one door to the OrderDesk API: JSON over fetch with the bearer token, errors
// raised as ApiError carrying the API's {"error": {"code", "message", "fields"}} body.

// The API is served from where the portal is (…/portal/api.js → …/), so a stage prefix in AWS works.
export const API_BASE = new URL("..", import.meta.url);

const TOKEN_KEY = "orderdesk.token";
const ROLE_RANK = { viewer: 0, support: 1, billing: 2, admin: 3 };

export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

function decodeClaims(token) {
  try {
    const part = token.split(".")[1];
    const binary = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

/** The signed-in operator. Claims are read only to shape the UI; the API verifies the token. */
export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
  claims() {
    const token = this.token();
    return token ? decodeClaims(token) : null;
  },
  /** Why a pasted token cannot be used, or null when it looks usable. */
  problem(token) {
    if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) return "This is not a JWT (three dot-separated parts).";
    const claims = decodeClaims(token);
    if (!claims) return "The token's claims cannot be read.";
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return "This token has expired.";
    return null;
  },
  expired() {
    const claims = this.claims();
    return !claims || (typeof claims.exp === "number" && claims.exp * 1000 < Date.now());
  },
  role() {
    const claims = this.claims() || {};
    let groups = claims["cognito:groups"] || [];
    if (typeof groups === "string") groups = [groups];
    return groups.filter((g) => g in ROLE_RANK).sort((a, b) => ROLE_RANK[b] - ROLE_RANK[a])[0] || null;
  },
  name() {
    const claims = this.claims() || {};
    return claims.email || claims["cognito:username"] || claims.username || claims.sub || "";
  },
  /** Whether the signed-in role reaches `needed` (viewer < support < billing < admin). */
  can(needed) {
    const role = this.role();
    return role !== null && ROLE_RANK[role] >= ROLE_RANK[needed];
  },
};

let unauthorized = () => {};
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

// A 53-bit string hash (cyrb53): lets Once compare bodies without keeping them (they may hold passwords).
function hash(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * One Idempotency-Key per attempt at a change. Sending the same body again while the attempt has no
 * answer (the network failed, the API answered 5xx) reuses the key, so a request that did reach the
 * API is not carried out twice; a new body gets a new key. Once the API has taken the attempt
 * (`settled()`, after a 2xx), the next submission is a new attempt with a new key, even with the same
 * body: pressing Accept again after the accept's workflow failed starts a new run instead of being
 * answered with the failed one.
 */
export class Once {
  key(body) {
    const digest = hash(JSON.stringify(body ?? null));
    if (digest !== this.digest) {
      this.digest = digest;
      this.value = uuid();
    }
    return this.value;
  }

  settled() {
    this.digest = undefined;
    this.value = undefined;
  }
}

export async function request(method, path, { body, query, idempotencyKey, signal } = {}) {
  const url = new URL(path.replace(/^\//, ""), API_BASE);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let resp;
  try {
    resp = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
      credentials: "omit",
    });
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, "network", "The OrderDesk API could not be reached. Check the connection and try again.");
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    const message = err.message || (data && data.message) || `The API answered ${resp.status} ${resp.statusText}.`;
    const error = new ApiError(resp.status, err.code || `http_${resp.status}`, message, err.fields || {});
    if (resp.status === 401) unauthorized(error);
    throw error;
  }
  return data;
}

export const api = {
  get: (path, query, opts = {}) => request("GET", path, { ...opts, query }),
  post: (path, body = {}, opts = {}) => request("POST", path, { ...opts, body }),
  put: (path, body = {}, opts = {}) => request("PUT", path, { ...opts, body }),
  del: (path, opts = {}) => request("DELETE", path, opts),
};

/** The portal's run-time settings (the Cognito hosted UI in AWS; nothing locally). */
export async function portalConfig() {
  try {
    const resp = await fetch(new URL("portal/config.json", API_BASE), { cache: "no-store" });
    return resp.ok ? await resp.json() : { cognito: null };
  } catch {
    return { cognito: null };
  }
}

/** The local stack's sign-in route (its gateway alone has it; the deployed API does not). */
export const localSignIn = {
  /** The roles offered, or null when this is not the local stack. */
  async roles() {
    try {
      const resp = await fetch(new URL("local/sign-in", API_BASE), { cache: "no-store", credentials: "omit" });
      const body = resp.ok ? await resp.json() : null;
      return body && Array.isArray(body.roles) && body.roles.length ? body.roles : null;
    } catch {
      return null;
    }
  },
  /** A token for `role`, signed by the local stack. */
  async token(role) {
    let resp;
    try {
      resp = await fetch(new URL("local/sign-in", API_BASE), {
        method: "POST", cache: "no-store", credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ role }),
      });
    } catch {
      throw new ApiError(0, "network", "The local stack could not be reached.");
    }
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok || !body.token) {
      const err = body.error || {};
      throw new ApiError(resp.status, err.code || `http_${resp.status}`, err.message || `The local sign-in answered ${resp.status}.`,
        err.fields);
    }
    return body.token;
  },
};
