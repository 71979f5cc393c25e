// Sign-in page: trade username and password for a bearer token kept for this browser tab
// (sessionStorage), then go to the page asked for (crews to the crew tablet).

const $ = (id) => document.getElementById(id);

function destination(role) {
  const next = new URLSearchParams(location.search).get("next");
  if (next && next.startsWith("/") && !next.startsWith("//")) return next;
  if (role === "planner") return "/planner";
  return role === "crew" ? "/crew" : "/";
}

async function signIn(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const res = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value.trim(), password: $("password").value }),
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    $("login-error").textContent = typeof data.detail === "string" ? data.detail : `HTTP ${res.status}`;
    return;
  }
  sessionStorage.setItem("h115.token", data.access_token);
  sessionStorage.setItem("h115.role", data.role);
  sessionStorage.setItem("h115.username", data.username);
  if (data.unit_id) sessionStorage.setItem("h115.unit_id", data.unit_id);
  else sessionStorage.removeItem("h115.unit_id");
  location.replace(destination(data.role));
}

$("login-form").addEventListener("submit", signIn);
