// The JSON API client every page uses: same-origin fetch, JSON in and out,
// the session's CSRF token on every request that changes something, and
// errors turned into ApiError carrying the API's code and message, which the
// pages show to people as they are.

// sentence makes an API message read as a sentence on a page: the API
// writes them in lower case, for logs and command lines as much as pages.
export function sentence(msg) {
  const s = String(msg || "").trim();
  if (!s) return "";
  const first = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?…)]$/.test(first) ? first : first + ".";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(sentence(message));
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";
let onUnauthorized = null;

// setCsrfToken replaces the token after a sign-in on a page that was rendered
// without a session (setup, sign in again).
export function setCsrfToken(token) {
  csrfToken = token || "";
}

// handleUnauthorized sets what happens when a signed-in page's session has
// ended (401): pages of the app send the user to sign in again.
export function handleUnauthorized(f) {
  onUnauthorized = f;
}

export async function api(method, path, body) {
  return (await request(method, path, body)).data;
}

// getVersioned reads a resource that pages edit whole, with its version (the
// ETag); patchIfMatch saves it only if that is still the current version,
// else throws an ApiError with status 412 whose data.current and etag are the
// resource as it is now.
export const getVersioned = (path) => request("GET", path);
export const patchIfMatch = (path, body, etag) => request("PATCH", path, body, etag ? { "If-Match": etag } : {});

async function request(method, path, body, extraHeaders) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD" && csrfToken) {
    headers["X-CSRF-Token"] = csrfToken;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "networkError", "Keyward could not be reached. Check your connection and try again.");
  }
  const text = res.status === 204 ? "" : await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && data.error;
    const err = new ApiError(res.status, (e && e.code) || "httpError",
      (e && e.message) || `Something went wrong (HTTP ${res.status}). Try again.`);
    err.data = data;
    err.etag = res.headers.get("ETag");
    // Only "unauthenticated" means the session is gone; other 401s (a wrong
    // code, wrong credentials) are answers for the page to show.
    if (res.status === 401 && err.code === "unauthenticated" && onUnauthorized) {
      onUnauthorized(err);
    }
    throw err;
  }
  return { data, etag: res.headers.get("ETag") };
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

// pathOf turns an absolute @odata.nextLink into a same-origin path, so paging
// works whatever host name the page was opened with.
export function pathOf(link) {
  const u = new URL(link, location.href);
  return u.pathname + u.search;
}

// listAll follows @odata.nextLink up to limit items.
export async function listAll(path, limit = 2000) {
  const out = [];
  let next = path;
  while (next && out.length < limit) {
    const page = await get(next);
    out.push(...(page.value || []));
    next = page["@odata.nextLink"] ? pathOf(page["@odata.nextLink"]) : "";
  }
  return out;
}

// odataString quotes a value for a $filter expression.
export function odataString(s) {
  return "'" + String(s).replace(/'/g, "''") + "'";
}
