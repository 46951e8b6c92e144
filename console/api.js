// api.js: the console's API client. Credentials live in sessionStorage only
// (a reload keeps the tab signed in, a new tab asks again); every call is
// signed (sigv4.js) exactly as any other client's. Knows no page.
import { canonicalQuery, sign } from "./sigv4.js";

const KEY = "ccf.credentials";
let config = null;

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
  toString() {
    return `${this.type}: ${this.message}`;
  }
}

export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function signIn(creds) {
  sessionStorage.setItem(KEY, JSON.stringify(creds));
}

export function signOut() {
  sessionStorage.clear();
}

// Unsigned: the page must learn the region before it can sign.
export async function loadConfig() {
  if (!config) {
    const r = await fetch("config.json", { cache: "no-cache" });
    if (!r.ok) throw new ApiError(r.status, "ConsoleError", "config.json could not be read");
    config = await r.json();
  }
  return config;
}

// One signed call. params: object or [[k, v]] (undefined values dropped).
// Returns {status, headers, json?, text?}; throws ApiError on a non-2xx.
// bytes: the body as an ArrayBuffer (the logs operation counts offsets in bytes).
export async function call(method, path, { params, body, text, bytes, signal } = {}) {
  const creds = credentials();
  if (!creds) throw new ApiError(0, "SignedOut", "Sign in first");
  const cfg = await loadConfig();
  const list = Array.isArray(params) ? params : Object.entries(params || {});
  const query = canonicalQuery(list.filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const payload = body === undefined ? "" : JSON.stringify(body);
  const headers = await sign({
    method,
    path,
    query,
    body: payload,
    host: location.host,
    region: cfg.region,
    service: cfg.service || "execute-api",
    creds,
  });
  if (payload) headers["Content-Type"] = "application/json";
  const r = await fetch(path + (query ? "?" + query : ""), {
    method,
    headers,
    body: payload || undefined,
    signal,
    cache: "no-store",
    credentials: "omit",
  });
  if (!r.ok) {
    let type = r.headers.get("x-amzn-ErrorType") || `HTTP ${r.status}`;
    let message = r.statusText;
    try {
      const e = await r.json();
      type = e.errorType || type;
      message = e.message || message;
    } catch {
      /* not the contract's shape: keep the status line */
    }
    throw new ApiError(r.status, type, message);
  }
  const out = { status: r.status, headers: r.headers };
  if (bytes) out.bytes = await r.arrayBuffer();
  else if (text) out.text = await r.text();
  else if (r.status !== 204) out.json = await r.json();
  return out;
}

export const CONNECTORS = "/api/v1/custom-connectors";
export const connectorPath = (id) => `${CONNECTORS}/${id}`;
export const jobPath = (cid, jid) => `${CONNECTORS}/${cid}/jobs/${jid}`;
