// Crew tablet: sign in as a unit, see the current job (address, priority, route, turns, ETA),
// press big status buttons in job order. Actions queue in localStorage with the time they
// happened and are sent in order when the connection is back; position from geolocation or
// simulated (demo) by the server.

import { api, ApiError, lonLat, saveToken, setUnauthorizedHandler, token } from "./api.js";
import { JobAlert, keepScreenOn } from "./alert.js";
import { esc } from "./html.js";
import { t, setLang, lang, applyStatic, formatDuration } from "./i18n.js";
import { LiveConnection } from "./live.js";
import { createMap, drawStationsAndHospitals, unitIcon } from "./mapbase.js";

const $ = (id) => document.getElementById(id);
const ACTION_STATUS = {
  en_route: "en_route", on_scene: "on_scene", transporting: "transporting",
  at_hospital: "at_hospital", available: "available_on_road",
};
// Which button is next for each unit status (job order).
const NEXT_ACTION = {
  dispatched: ["acknowledge", "en_route"], en_route: ["on_scene"], on_scene: ["transporting", "available"],
  transporting: ["at_hospital"], at_hospital: ["available"],
};

let unitId = null;
let unit = null;
let acked = false;
let map = null;
let unitMarker = null;
let routeLayer = null;
let sceneMarker = null; // the patient's pin (where the dispatcher placed it)
let live = null;
let flushing = false;
let connected = false;
let lastJob = null;
const alarm = new JobAlert(); // rings for a job until the crew acknowledges it

function showConnection() {
  $("conn").className = `conn ${connected ? "on" : "off"}`;
  $("conn").textContent = t(connected ? "connected" : "disconnected");
}

function outboxKey() { return `h115.outbox.${unitId}`; }
function outbox() { return JSON.parse(localStorage.getItem(outboxKey()) || "[]"); }
function saveOutbox(items) {
  localStorage.setItem(outboxKey(), JSON.stringify(items));
  $("outbox").textContent = items.length ? `${t("offline_queue")}: ${items.length}` : "";
  $("outbox").dataset.count = String(items.length);
}

async function main() {
  $("lang").value = lang();
  $("lang").onchange = (e) => { setLang(e.target.value); renderJob(lastJob); showConnection(); };
  applyStatic();
  setUnauthorizedHandler(() => {
    localStorage.removeItem("h115.token");
    sessionStorage.removeItem("h115.token");
    if (live) live.close();
    showSignIn(t("signed_out"));
  });
  $("login-form").addEventListener("submit", (e) => { e.preventDefault(); login(); });
  if (!token()) return;
  try {
    const me = await api("/auth/me");
    if (me.unit_id) return signIn(me.unit_id);
    await offerUnits(); // a dispatcher or admin checking a tablet picks the unit
  } catch (err) { /* not signed in: the form stays */ }
}

function showSignIn(message = "") {
  $("signin").hidden = false;
  $("job-view").hidden = true;
  $("signin-error").textContent = message;
}

async function login() {
  try {
    const res = await api("/auth/login", {
      method: "POST", body: { username: $("username").value, password: $("password").value },
    });
    saveToken(res.access_token, { persistent: true });
    if (res.unit_id) return signIn(res.unit_id);
    await offerUnits();
  } catch (err) {
    $("signin-error").textContent = err.message;
  }
}

async function offerUnits() {
  const select = $("unit-select");
  if (!select.hidden && select.value) return signIn(select.value);
  const units = await api("/units");
  for (const f of units.features) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = f.properties.unit_id;
    select.append(opt);
  }
  const wanted = new URLSearchParams(location.search).get("unit");
  if (wanted) select.value = wanted;
  select.hidden = false;
}

async function signIn(id) {
  if (unitId === id && live) { // signed in again after the token ran out
    $("signin").hidden = true;
    $("job-view").hidden = false;
    live.connect();
    flush();
    return;
  }
  if (unitId) return;
  unitId = id;
  localStorage.setItem("h115.unit", id);
  $("signin").hidden = true;
  $("job-view").hidden = false;
  $("unit-name").textContent = `${t("unit")} ${id}`;
  ({ map } = await createMap("map"));
  const { hospitals } = await drawStationsAndHospitals(map);
  for (const f of hospitals.features) {
    const opt = document.createElement("option");
    opt.value = f.properties.hospital_id;
    opt.textContent = f.properties.name;
    $("hospital").append(opt);
  }
  for (const btn of document.querySelectorAll("[data-action]")) {
    btn.onclick = () => act(btn.dataset.action);
  }
  live = new LiveConnection({
    role: "crew", unitId: id,
    onSnapshot: () => loadJob(),
    onEvent: (msg) => { if (msg.unit_id === unitId || msg.data.unit_id === unitId) onUnitEvent(msg); },
    onStatus: (up) => {
      connected = up;
      showConnection();
      if (up) flush();
    },
  });
  live.connect();
  window.h115 = {
    live, flush, outbox, alarm,
    scene: () => sceneMarker && sceneMarker.getLatLng(),
    fixesSent: () => fixesSent,
  };
  keepScreenOn();
  saveOutbox(outbox());
  startGeolocation();
  setInterval(flush, 5000);
}

function onUnitEvent(msg) {
  if (msg.kind === "unit_position") {
    if (unit) unit.position = msg.data.position;
    drawUnit();
    return;
  }
  if (msg.kind === "unit_assigned") acked = false;
  loadJob();
}

async function loadJob() {
  try {
    const job = await api(`/units/${encodeURIComponent(unitId)}/job`);
    unit = job.unit;
    if (job.acknowledged) acked = true;
    renderJob(job);
  } catch (err) { /* offline: keep what is shown */ }
}

function renderJob(job) {
  if (!job) return;
  lastJob = job;
  applyStatic();
  const box = $("job");
  const pendingStatus = lastQueuedStatus() || unit.status;
  $("status-now").textContent = t("status." + pendingStatus);
  $("status-now").dataset.status = pendingStatus;
  if (!job.call) {
    alarm.stop();
    box.innerHTML = `<p>${t("no_job")}</p>`;
    $("turns").innerHTML = "";
    if (routeLayer) routeLayer.remove();
    drawScene(null);
  } else {
    const c = job.call;
    const eta = job.route ? formatDuration(job.route.properties.duration_s) : "—";
    const phone = c.caller_phone
      ? `<p class="job-phone"><a href="tel:${esc(c.caller_phone)}">☎ ${esc(c.caller_phone)}</a></p>` : "";
    box.innerHTML = `<p class="job-priority p-${esc(c.priority)}">${esc(c.priority || "?")}</p>`
      + `<p class="job-address">${esc(c.address_text)}</p><p class="job-complaint">${esc(c.complaint)}</p>`
      + phone + `<p><b>${esc(t("eta"))}</b>: <span id="eta">${esc(eta)}</span></p>`;
    box.dataset.call = c.call_id;
    if (!acked && pendingStatus === "dispatched") alarm.start(c.call_id);
    else alarm.stop();
    drawScene(c);
    drawRoute(job.route);
  }
  drawUnit();
  highlightButtons(pendingStatus);
}

function lastQueuedStatus() {
  const items = outbox().filter((a) => ACTION_STATUS[a.action]);
  return items.length ? ACTION_STATUS[items[items.length - 1].action] : null;
}

function highlightButtons(status) {
  const next = NEXT_ACTION[status] || [];
  for (const btn of document.querySelectorAll("[data-action]")) {
    const isNext = next.includes(btn.dataset.action) && !(btn.dataset.action === "acknowledge" && acked);
    btn.classList.toggle("next", isNext);
  }
}

function drawRoute(feature) {
  if (routeLayer) routeLayer.remove();
  routeLayer = null;
  $("turns").innerHTML = "";
  if (!feature) return;
  routeLayer = L.geoJSON(feature, { style: { color: "#d81b60", weight: 5 } }).addTo(map);
  map.fitBounds(routeLayer.getBounds(), { padding: [30, 30] });
  for (const step of feature.properties.steps || []) {
    const li = document.createElement("li");
    li.textContent = describeStep(step);
    $("turns").append(li);
  }
}

function drawScene(call) {
  if (sceneMarker) sceneMarker.remove();
  sceneMarker = null;
  if (!call || !call.pin) return;
  const c = lonLat(call.pin);
  sceneMarker = L.circleMarker([c[1], c[0]], {
    radius: 10, weight: 3, color: "#000", fillColor: "#d50000", fillOpacity: 0.9, className: "scene-pin",
  }).bindTooltip(esc(call.address_text || t("scene"))).addTo(map);
}

function describeStep(step) {
  const verb = t(`maneuvers.${step.maneuver}`);
  if (typeof verb !== "string" || verb.startsWith("maneuvers.")) return step.instruction;
  if (step.maneuver === "arrive") return verb;
  if (step.maneuver === "offroad") return `${verb} ${Math.round(step.distance_m)} m`;
  const name = step.name || t("unnamed_road");
  return `${verb} ${name} (${Math.round(step.distance_m)} m)`;
}

function drawUnit() {
  if (!unit || !unit.position) return;
  const c = lonLat(unit.position);
  const icon = unitIcon(unit);
  if (!unitMarker) unitMarker = L.marker([c[1], c[0]], { icon }).addTo(map);
  else { unitMarker.setLatLng([c[1], c[0]]); unitMarker.setIcon(icon); }
}

// ----- actions and the offline queue -------------------------------------------------------------
function act(action) {
  const item = { id: `${unitId}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`, action, device_time_s: Date.now() / 1000 };
  if (action === "transporting") item.hospital_id = $("hospital").value;
  if (action === "acknowledge") acked = true;
  if (action === "acknowledge" || ACTION_STATUS[action]) alarm.stop(); // the crew has seen it
  saveOutbox([...outbox(), item]);
  highlightButtons(lastQueuedStatus() || (unit && unit.status));
  $("status-now").textContent = t("status." + (lastQueuedStatus() || (unit && unit.status)));
  flush();
}

async function flush() {
  if (flushing || !unitId) return;
  flushing = true;
  try {
    let items = outbox();
    while (items.length) {
      const item = items[0];
      try {
        await send(item);
      } catch (err) {
        // Offline, server down or signed out: keep the action and retry later, in order.
        if (!(err instanceof ApiError) || err.status >= 500 || err.status === 401) break;
        console.warn("action rejected", item, err.detail); // refused for good: drop it
      }
      items = outbox().filter((a) => a.id !== item.id);
      saveOutbox(items);
    }
  } finally {
    flushing = false;
  }
  loadJob();
}

async function send(item) {
  const path = `/units/${encodeURIComponent(unitId)}`;
  if (item.action === "acknowledge") {
    return api(`${path}/ack`, { method: "POST", body: { device_time_s: item.device_time_s, action_id: item.id } });
  }
  return api(`${path}/status`, {
    method: "POST",
    body: { status: ACTION_STATUS[item.action], hospital_id: item.hospital_id || null, device_time_s: item.device_time_s, action_id: item.id },
  });
}

// A device's GPS fires about once a second, and every fix sent becomes a stored event: send
// one when the ambulance has moved FIX_MOVED_M since the last one sent, or FIX_EVERY_S has
// passed (a parked unit still shows it is alive), so a map stays fresh without a million
// rows a day of a unit sitting at its station.
const FIX_EVERY_S = 5;
const FIX_MOVED_M = 30;
let lastFix = null;
let fixesSent = 0; // read by the browser tests

function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const x = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  return Math.hypot(x, (b.lat - a.lat) * rad) * 6371008.8;
}

function worthSending(fix) {
  return !lastFix || fix.t - lastFix.t >= FIX_EVERY_S || metresBetween(lastFix, fix) >= FIX_MOVED_M;
}

async function startGeolocation() {
  // In demo mode the server drives the vehicle along its route (simulated position).
  if (!navigator.geolocation || new URLSearchParams(location.search).get("simulated")) return;
  if ((await api("/config")).demo) return;
  navigator.geolocation.watchPosition((pos) => {
    const fix = { lon: pos.coords.longitude, lat: pos.coords.latitude, t: pos.timestamp / 1000 };
    if (!worthSending(fix) || !live.send({
      type: "position", lon: fix.lon, lat: fix.lat,
      speed_kph: pos.coords.speed !== null ? pos.coords.speed * 3.6 : null,
      heading_deg: pos.coords.heading, device_time_s: fix.t,
    })) return;
    lastFix = fix;
    fixesSent += 1;
  }, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
}

main();
