// The registrars a domain item may name here (GET /registrars): a choice, never typed.

import { api } from "./api.js";
import { select } from "./ui.js";

let cached = null; // they change only with the stack's settings: read once a page load

/** The configured registrars, [{name, label, description, default}]. */
export async function registrars(signal) {
  cached ??= api.get("/registrars", null, { signal }).then((r) => r.registrars).catch((err) => {
    cached = null; // asked again next time
    throw err;
  });
  return cached;
}

/** A menu of them; `value` (an item's registrar) or else the default is chosen. */
export function registrarSelect(list, { value, ...props } = {}) {
  const options = list.map((r) => [r.name, r.label]);
  if (value && !list.some((r) => r.name === value)) options.push([value, `${value} (not configured)`]);
  const chosen = value || list.find((r) => r.default)?.name || list[0]?.name || "";
  return select(options, { ...props, value: chosen });
}
