// Small fetch helpers for the REST API (JSON in and out; errors carry the server's detail).

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

// The bearer token (from POST /api/v1/auth/login) lives in sessionStorage (the /login page),
// or in localStorage on crew tablets that must survive a restart; key "h115.token".
export function token() {
  return sessionStorage.getItem("h115.token") || localStorage.getItem("h115.token");
}

// Every page needs a signed-in user (web/security): without a token, go to the sign-in page.
// The crew tablet signs in by itself (its own form), so it is not sent away.
export function signInAgain() {
  sessionStorage.removeItem("h115.token");
  localStorage.removeItem("h115.token");
  location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}
const SELF_SIGN_IN = location.pathname.startsWith("/crew");
if (!token() && !SELF_SIGN_IN) signInAgain();

export function saveToken(value, { persistent = false } = {}) {
  (persistent ? localStorage : sessionStorage).setItem("h115.token", value);
}

let onUnauthorized = signInAgain;
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }
export function unauthorized() { onUnauthorized(); }

export async function api(path, { method = "GET", body = undefined } = {}) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const bearer = token();
  if (bearer) init.headers.Authorization = `Bearer ${bearer}`;
  const res = await fetch(`/api/v1${path}`, init);
  if (res.status === 401 && !path.startsWith("/auth/")) onUnauthorized();
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data && data.detail !== undefined ? data.detail : data);
  return data;
}

export function point(lon, lat) {
  return { type: "Point", coordinates: [lon, lat] };
}

export function lonLat(geom) {
  return geom && geom.coordinates ? geom.coordinates : null;
}
