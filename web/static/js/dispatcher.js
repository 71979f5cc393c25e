// Dispatcher map: live units and calls from the websocket, call intake with street search and
// an authoritative pin, ranked recommendations with one-click assignment, queue, units, KPIs.

import { api, point, lonLat, token } from "./api.js";
import { JobAlert } from "./alert.js";
import { esc } from "./html.js";
import { t, setLang, lang, applyStatic, formatDuration } from "./i18n.js";
import { LiveConnection } from "./live.js";
import { createMap, drawStationsAndHospitals, unitIcon, PRIORITY_COLOURS } from "./mapbase.js";

const state = { units: new Map(), calls: new Map(), presence: {}, acks: {}, routes: new Map() };
const layers = { units: new Map(), calls: new Map(), routes: new Map() };
let map = null;
let config = null;
const alarm = new JobAlert(); // sounds while a dispatched job waits too long for its crew
let pin = null;
let deviceMarker = null;
let selectedCall = null;
const $ = (id) => document.getElementById(id);

const WAITING = new Set(["received", "triaged", "queued"]);
const CALL_STATUS_OF_UNIT = { on_scene: "on_scene", transporting: "transporting", at_hospital: "at_hospital" };

async function main() {
  if (!token()) return; // api.js is sending the browser to /login
  $("lang").value = lang();
  $("lang").onchange = (e) => { setLang(e.target.value); renderAll(); showConnection(connected); };
  applyStatic();
  ({ map, config } = await createMap("map"));
  await drawStationsAndHospitals(map);
  map.on("click", (e) => placePin(e.latlng.lng, e.latlng.lat));
  setupIntake();
  const live = new LiveConnection({
    role: "dispatcher",
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
    onMessage: applyMessage,
    onStatus: showConnection,
  });
  live.connect();
  window.h115 = { state, live, layers, alarm };
  setInterval(renderLists, 1000);
  refreshKpi();
  setInterval(refreshKpi, 30000);
}

let connected = false;
function showConnection(up) {
  connected = up;
  $("conn").className = `conn ${up ? "on" : "off"}`;
  $("conn").textContent = t(up ? "connected" : "disconnected");
}

// ----- live state ---------------------------------------------------------------------------
function applySnapshot(snap) {
  state.units = new Map(snap.units.map((u) => [u.unit_id, u]));
  state.calls = new Map(snap.calls.map((c) => [c.call_id, c]));
  state.presence = snap.presence || {};
  state.acks = snap.acks || {};
  for (const layer of [...layers.units.values(), ...layers.calls.values()]) layer.remove();
  layers.units.clear();
  layers.calls.clear();
  renderAll();
  for (const unit of state.units.values()) if (unit.call_id) loadRoute(unit.unit_id);
}

function applyEvent(msg) {
  $("seq").textContent = `#${msg.seq}`;
  const d = msg.data;
  const unit = d.unit_id ? state.units.get(d.unit_id) : null;
  const call = d.call_id ? state.calls.get(d.call_id) : null;
  switch (msg.kind) {
    case "unit_registered":
      state.units.set(d.unit_id, { ...d, position: d.home, call_id: null });
      break;
    case "call_created":
      state.calls.set(d.call_id, { ...d, received_s: msg.at_s, status: d.priority ? "triaged" : "received" });
      break;
    case "call_updated":
      if (call) for (const [k, v] of Object.entries(d)) if (v !== null && k !== "type") call[k] = v;
      if (call && d.priority && call.status === "received") call.status = "triaged";
      break;
    case "call_queued":
      if (call) Object.assign(call, { status: "queued", queued_s: msg.at_s, unit_id: null });
      break;
    case "unit_assigned":
      if (call) Object.assign(call, { status: "assigned", unit_id: d.unit_id });
      if (unit) Object.assign(unit, { status: "dispatched", call_id: d.call_id });
      state.acks[d.unit_id] = { call_id: d.call_id, assigned_s: msg.at_s };
      loadRoute(d.unit_id);
      break;
    case "unit_diverted": {
      const target = state.calls.get(d.to_call_id);
      if (unit) unit.call_id = d.to_call_id;
      if (target) Object.assign(target, { status: "assigned", unit_id: d.unit_id });
      loadRoute(d.unit_id);
      break;
    }
    case "unit_status_changed":
      if (unit) {
        unit.status = d.to_status;
        if (d.hospital_id) unit.hospital_id = d.hospital_id;
        if (d.to_status !== "dispatched") delete state.acks[d.unit_id];
        if (["available_at_station", "available_on_road", "returning", "off_duty", "out_of_service"].includes(d.to_status)) {
          unit.call_id = null;
          dropRoute(d.unit_id);
        } else {
          loadRoute(d.unit_id);
        }
      }
      if (call && CALL_STATUS_OF_UNIT[d.to_status]) call.status = CALL_STATUS_OF_UNIT[d.to_status];
      break;
    case "unit_acknowledged":
      delete state.acks[d.unit_id];
      break;
    case "hospital_chosen":
      if (call) call.hospital_id = d.hospital_id;
      break;
    case "call_cancelled":
    case "call_closed":
      state.calls.delete(d.call_id);
      removeLayer(layers.calls, d.call_id);
      break;
    case "unit_position":
      if (unit) { unit.position = d.position; unit.position_s = msg.at_s; }
      break;
    default:
      break;
  }
  if (d.unit_id) renderUnit(d.unit_id);
  if (d.call_id && state.calls.has(d.call_id)) renderCall(d.call_id);
  if (d.to_call_id && state.calls.has(d.to_call_id)) renderCall(d.to_call_id);
  if (msg.kind !== "unit_position") renderLists();
  if (["call_created", "call_closed", "unit_status_changed"].includes(msg.kind)) refreshKpi();
}

function applyMessage(msg) {
  if (msg.type === "presence") {
    state.presence[msg.unit_id] = { connected: msg.connected, last_seen_s: msg.last_seen_s };
    renderUnit(msg.unit_id);
  } else if (msg.type === "ack") {
    delete state.acks[msg.unit_id];
    renderUnit(msg.unit_id);
  } else if (msg.type === "recommendation" && selectedCall === msg.call_id) {
    renderRecommendations(msg.call_id, msg.units);
  }
}

// ----- map rendering ------------------------------------------------------------------------
function latLngOf(geom) {
  const c = lonLat(geom);
  return c ? [c[1], c[0]] : null;
}

function renderUnit(unitId) {
  const unit = state.units.get(unitId);
  if (!unit || !unit.position) return;
  const connected = !state.presence[unitId] || state.presence[unitId].connected;
  const icon = unitIcon(unit, { connected, awaitingAck: Boolean(state.acks[unitId]) });
  let marker = layers.units.get(unitId);
  if (!marker) {
    marker = L.marker(latLngOf(unit.position), { icon, zIndexOffset: 1000 }).addTo(map);
    marker.getElement()?.setAttribute("data-unit", unitId);
    layers.units.set(unitId, marker);
  } else {
    marker.setLatLng(latLngOf(unit.position));
    marker.setIcon(icon);
  }
  marker.getElement()?.setAttribute("data-unit", unitId);
  marker.getElement()?.setAttribute("data-status", unit.status);
  marker.bindTooltip(esc(`${unitId} · ${t("status." + unit.status)}${connected ? "" : " · " + t("device_lost")}`));
}

function renderCall(callId) {
  const call = state.calls.get(callId);
  if (!call) return;
  const colour = PRIORITY_COLOURS[call.priority] || "#555";
  let marker = layers.calls.get(callId);
  if (!marker) {
    marker = L.circleMarker(latLngOf(call.pin), { radius: 9, weight: 3, color: "#000", fillColor: colour, fillOpacity: 0.9 })
      .on("click", () => selectCall(callId)).addTo(map);
    layers.calls.set(callId, marker);
  } else {
    marker.setLatLng(latLngOf(call.pin));
    marker.setStyle({ fillColor: colour });
  }
  marker.bindTooltip(esc(`${call.priority || "?"} · ${call.address_text} · ${t("call_status." + call.status)}`));
}

function removeLayer(store, key) {
  const layer = store.get(key);
  if (layer) layer.remove();
  store.delete(key);
}

async function loadRoute(unitId) {
  try {
    const feature = await api(`/units/${encodeURIComponent(unitId)}/route`);
    dropRoute(unitId);
    if (!feature) return;
    layers.routes.set(unitId, L.geoJSON(feature, { style: { color: "#d81b60", weight: 4, opacity: 0.8 } }).addTo(map));
  } catch (err) {
    dropRoute(unitId);
  }
}

function dropRoute(unitId) {
  removeLayer(layers.routes, unitId);
}

function renderAll() {
  applyStatic();
  for (const id of state.units.keys()) renderUnit(id);
  for (const id of state.calls.keys()) renderCall(id);
  renderLists();
}

// ----- panels ---------------------------------------------------------------------------------
function age(s) {
  return formatDuration(Date.now() / 1000 - s);
}

function renderLists() {
  const calls = [...state.calls.values()];
  const rank = (c) => (c.priority ? Number(c.priority[1]) : 9);
  const waiting = calls.filter((c) => WAITING.has(c.status))
    .sort((a, b) => rank(a) - rank(b) || a.received_s - b.received_s);
  $("queue").innerHTML = waiting.length ? "" : `<li class="empty">${t("no_calls")}</li>`;
  for (const call of waiting) $("queue").append(callRow(call));
  $("active").innerHTML = "";
  for (const call of calls.filter((c) => !WAITING.has(c.status))) $("active").append(callRow(call));
  $("units").innerHTML = "";
  for (const unit of [...state.units.values()].sort((a, b) => a.unit_id.localeCompare(b.unit_id))) {
    const li = document.createElement("li");
    li.dataset.unit = unit.unit_id;
    li.dataset.status = unit.status;
    const p = state.presence[unit.unit_id];
    const ack = state.acks[unit.unit_id];
    if (ack && overdue(ack)) {
      li.classList.add("ack-overdue");
      li.title = t("ack_mute");
      li.onclick = () => { mutedAcks.add(ackKey(unit.unit_id, ack)); soundOverdueAcks(); };
    }
    li.innerHTML = `<b>${esc(unit.unit_id)}</b> <span class="st st-${esc(unit.status)}">${esc(t("status." + unit.status))}</span>`
      + (p && !p.connected ? ` <span class="lost">${t("device_lost")}</span>` : "")
      + (ack ? ` <span class="ack-timer">${t("ack_waiting")} ${age(ack.assigned_s)}</span>` : "");
    $("units").append(li);
  }
  soundOverdueAcks();
}

// A crew that has not confirmed its job after `ack_alert_s` may not have seen it: the
// dispatcher hears it (and the header flashes) until the crew acknowledges or is reached.
function overdue(ack) {
  return Date.now() / 1000 - ack.assigned_s >= (config ? config.ack_alert_s : 60);
}

// A click on the unit's row silences its alert (the dispatcher is on it, e.g. calling the
// crew); the row stays orange until the crew acknowledges.
const mutedAcks = new Set();
const ackKey = (unitId, ack) => `${unitId}:${ack.call_id}`;

function soundOverdueAcks() {
  const late = Object.entries(state.acks)
    .filter(([id, ack]) => overdue(ack) && !mutedAcks.has(ackKey(id, ack)))
    .map(([id]) => id).sort();
  if (late.length) alarm.start(`ack:${late.join(",")}`);
  else alarm.stop();
}

function callRow(call) {
  const li = document.createElement("li");
  li.dataset.call = call.call_id;
  li.className = `call p-${call.priority || "none"}${selectedCall === call.call_id ? " selected" : ""}`;
  li.innerHTML = `<b>${esc(call.priority || "?")}</b> ${esc(call.address_text)} <span class="age">${age(call.received_s)}</span>`
    + ` <span class="cs">${esc(t("call_status." + call.status) + (call.unit_id ? " · " + call.unit_id : ""))}</span>`;
  li.onclick = () => selectCall(call.call_id);
  return li;
}

async function refreshKpi() {
  try {
    const k = await api("/kpi");
    $("kpi-calls").textContent = k.calls_today;
    $("kpi-mean").textContent = formatDuration(k.mean_response_s);
    $("kpi-p90").textContent = formatDuration(k.p90_response_s);
  } catch (err) { /* shown again on the next refresh */ }
}

// ----- intake -----------------------------------------------------------------------------------
function placePin(lon, lat) {
  if (!pin) {
    pin = L.marker([lat, lon], { draggable: true, title: "pin" }).addTo(map);
    pin.on("dragend", () => showPin());
  } else {
    pin.setLatLng([lat, lon]);
  }
  showPin();
}

function showPin() {
  const p = pin.getLatLng();
  $("pin-text").textContent = `${p.lat.toFixed(5)}, ${p.lng.toFixed(5)}`;
  $("pin-text").dataset.lon = p.lng;
  $("pin-text").dataset.lat = p.lat;
}

function showDeviceLocation() {
  const lon = parseFloat($("device-lon").value);
  const lat = parseFloat($("device-lat").value);
  if (deviceMarker) deviceMarker.remove();
  deviceMarker = null;
  if (isFinite(lon) && isFinite(lat)) {
    // Shown for the dispatcher to judge, never applied to the pin.
    deviceMarker = L.circleMarker([lat, lon], { radius: 7, color: "#6a1b9a", dashArray: "3", fillOpacity: 0.1 })
      .bindTooltip(t("caller_location")).addTo(map);
  }
}

function setupIntake() {
  let timer = null;
  $("address").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(searchStreets, 200);
  });
  $("device-lon").addEventListener("change", showDeviceLocation);
  $("device-lat").addEventListener("change", showDeviceLocation);
  $("call-form").addEventListener("submit", (e) => { e.preventDefault(); createCall(); });
}

async function searchStreets() {
  const q = $("address").value.trim();
  const list = $("street-results");
  list.innerHTML = "";
  if (q.length < 2) return;
  const results = await api(`/streets?q=${encodeURIComponent(q)}&limit=8`);
  for (const r of results) {
    const li = document.createElement("li");
    li.textContent = r.name;
    li.onclick = () => {
      $("address").value = r.name;
      list.innerHTML = "";
      const [lon, lat] = r.location.coordinates;
      placePin(lon, lat);
      map.setView([lat, lon], Math.max(map.getZoom(), 16));
    };
    list.append(li);
  }
}

async function createCall() {
  $("form-error").textContent = "";
  if (!pin) { $("form-error").textContent = t("pin_hint"); return; }
  const p = pin.getLatLng();
  const body = {
    caller_phone: $("phone").value,
    address_text: $("address").value,
    pin: point(p.lng, p.lat),
    priority: $("priority").value,
    complaint: $("complaint").value,
  };
  const dlon = parseFloat($("device-lon").value);
  const dlat = parseFloat($("device-lat").value);
  if (isFinite(dlon) && isFinite(dlat)) body.caller_device_location = point(dlon, dlat);
  try {
    const created = await api("/calls", { method: "POST", body });
    state.calls.set(created.call.call_id, created.call);
    renderCall(created.call.call_id);
    renderLists();
    selectedCall = created.call.call_id;
    renderRecommendations(created.call.call_id, created.recommendations);
    pin.remove();
    pin = null;
    $("pin-text").textContent = "—";
  } catch (err) {
    $("form-error").textContent = describeError(err);
  }
}

function describeError(err) {
  if (Array.isArray(err.detail)) return err.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
  return err.message;
}

async function selectCall(callId) {
  selectedCall = callId;
  renderLists();
  const call = state.calls.get(callId);
  if (call && WAITING.has(call.status)) {
    const recs = await api(`/calls/${encodeURIComponent(callId)}/recommendations`);
    renderRecommendations(callId, recs);
  } else {
    $("recommendations").innerHTML = "";
  }
}

function renderRecommendations(callId, recs) {
  const box = $("recommendations");
  box.dataset.call = callId;
  box.innerHTML = `<h3>${esc(t("recommendations"))} · ${esc(callId)}</h3>`;
  const table = document.createElement("table");
  for (const r of recs) {
    const tr = document.createElement("tr");
    tr.dataset.unit = r.unit_id;
    const eta = r.reachable ? formatDuration(r.eta_s) : t("unreachable");
    const km = `${(r.straight_m / 1000).toFixed(1)} km`;
    // What the dispatcher must know before one click: the kind of unit, and whether sending it
    // takes it off another call (a diversion) or why it cannot reach.
    const notes = [
      r.diverts_call_id ? `${t("diverts")} ${r.diverts_call_id}` : "",
      r.reachable ? "" : r.note,
    ].filter(Boolean).join(" · ");
    tr.dataset.type = r.unit_type;
    if (r.diverts_call_id) tr.classList.add("divert");
    tr.innerHTML = `<td><b>${esc(r.unit_id)}</b><br><small class="type">${esc(t(`unit_type.${r.unit_type}`))}</small></td>`
      + `<td>${esc(r.station_id)}</td><td class="eta">${esc(eta)}</td><td>${esc(km)}</td>`
      + (notes ? `<td class="note">${esc(notes)}</td>` : "<td></td>");
    const td = document.createElement("td");
    const btn = document.createElement("button");
    btn.textContent = t("assign");
    btn.className = "assign";
    btn.disabled = !r.reachable;
    btn.onclick = () => assign(callId, r.unit_id);
    td.append(btn);
    tr.append(td);
    table.append(tr);
  }
  box.append(table);
}

async function assign(callId, unitId) {
  try {
    await api(`/calls/${encodeURIComponent(callId)}/assign`, { method: "POST", body: { unit_id: unitId } });
    $("recommendations").innerHTML = "";
  } catch (err) {
    $("form-error").textContent = describeError(err);
  }
}

main();
