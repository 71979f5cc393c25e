// Planner page: pick a scenario, run it as a background job (progress from the websocket's
// planner_job messages), compare KPIs per scenario, see 8/15-minute coverage on the map, and
// open the comparison report of selected runs.

import { api, token, ApiError } from "./api.js";
import { esc } from "./html.js";
import { lang, setLang } from "./i18n.js";
import { LiveConnection } from "./live.js";
import { createMap } from "./mapbase.js";
import { pt, applyPlannerStrings } from "./planner_i18n.js";

const $ = (id) => document.getElementById(id);
const state = { scenarios: [], jobs: new Map(), results: new Map(), watching: null, shown: null };
const layers = { coverage: null, legend: null };
let map = null;
let connected = false;
const ISO_STYLE = {
  8: { color: "#1b5e20", fillColor: "#43a047", fillOpacity: 0.35, weight: 1 },
  15: { color: "#e65100", fillColor: "#ffb74d", fillOpacity: 0.25, weight: 1 },
};

async function main() {
  if (!token()) return; // api.js is sending the browser to /login
  $("lang").value = lang();
  $("lang").onchange = (e) => { setLang(e.target.value); renderAll(); };
  applyPlannerStrings();
  ({ map } = await createMap("map"));
  await Promise.all([loadScenarios(), loadStationSets(), refreshJobs()]);
  $("run-form").addEventListener("submit", startRun);
  $("cancel").onclick = cancelRun;
  $("compare").onclick = compareSelected;
  $("show-coverage").onclick = showStationSetCoverage;
  const live = new LiveConnection({ role: "planner", onMessage, onStatus });
  live.connect();
  window.h115planner = { state, layers, live };
}

function onStatus(up) {
  connected = up;
  $("conn").className = `conn ${up ? "on" : "off"}`;
  $("conn").textContent = pt(up ? "connected" : "disconnected");
  if (up) refreshJobs(); // progress messages are not replayed: catch up by REST
}

function onMessage(msg) {
  if (msg.type !== "planner_job") return;
  const known = state.jobs.get(msg.job_id) || {};
  applyJob({ ...known, ...msg });
}

function applyJob(job) {
  state.jobs.set(job.job_id, job);
  if (job.state === "done" && !state.results.has(job.job_id)) loadResult(job.job_id);
  renderJobs();
  if (job.job_id === state.watching) renderProgress(job);
}

// ----- scenarios and runs ---------------------------------------------------------------------
async function loadScenarios() {
  state.scenarios = await api("/planner/scenarios");
  const select = $("scenario");
  const previous = select.value;
  select.replaceChildren();
  for (const s of state.scenarios) {
    const option = new Option(s.runnable ? s.name : `${s.name} (${pt("not_runnable")})`, s.name);
    option.disabled = !s.runnable;
    select.add(option);
  }
  select.onchange = () => describeScenario({ reset: true });
  if (previous && state.scenarios.some((s) => s.name === previous)) {
    select.value = previous; // a language switch: keep the planner's choices
    describeScenario({ reset: false });
    return;
  }
  const first = state.scenarios.find((s) => s.runnable);
  if (first) select.value = first.name;
  describeScenario({ reset: true });
}

function describeScenario({ reset }) {
  const s = state.scenarios.find((x) => x.name === $("scenario").value);
  if (!s) return;
  $("scenario-info").textContent = `${s.description} · ${s.calls_per_day} ${pt("calls_per_day")}`;
  if (!reset) return;
  $("days").value = s.days;
  $("replications").value = s.replications;
}

async function startRun(event) {
  event.preventDefault();
  $("run-error").textContent = "";
  const body = {
    scenario: $("scenario").value,
    days: Number($("days").value),
    replications: Number($("replications").value),
    hour_local: Number($("hour").value),
  };
  try {
    const job = await api("/planner/jobs", { method: "POST", body });
    state.watching = job.job_id;
    applyJob(job);
  } catch (err) {
    $("run-error").textContent = errorText(err);
  }
}

async function cancelRun() {
  if (!state.watching) return;
  try {
    applyJob(await api(`/planner/jobs/${state.watching}`, { method: "DELETE" }));
  } catch (err) {
    $("run-error").textContent = errorText(err);
  }
}

async function refreshJobs() {
  for (const job of await api("/planner/jobs")) applyJob({ ...(state.jobs.get(job.job_id) || {}), ...job });
}

async function loadResult(jobId) {
  state.results.set(jobId, null); // loading
  const result = await api(`/planner/jobs/${jobId}/result`);
  state.results.set(jobId, result);
  renderKpis();
  if (jobId === state.watching || state.shown === null) showJobLayers(jobId);
}

function renderProgress(job) {
  $("progress").value = job.fraction || 0;
  const percent = Math.round((job.fraction || 0) * 100);
  const text = `${job.job_id} · ${job.scenario} · ${pt(`state.${job.state}`)} · ${percent} %`;
  $("progress-text").textContent = job.error ? `${text} · ${job.error}` : text;
  $("progress-text").dataset.state = job.state;
  const active = job.state === "queued" || job.state === "running";
  $("cancel").hidden = !active;
  $("run").disabled = active;
}

function renderJobs() {
  const body = $("jobs").tBodies[0];
  body.replaceChildren();
  const jobs = [...state.jobs.values()].sort((a, b) => (b.created_s || 0) - (a.created_s || 0));
  for (const job of jobs) {
    const row = body.insertRow();
    row.dataset.job = job.job_id;
    row.dataset.state = job.state;
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.disabled = job.state !== "done";
    pick.checked = Boolean(state.selected && state.selected.has(job.job_id));
    pick.onchange = () => toggleSelected(job.job_id, pick.checked);
    row.insertCell().append(pick);
    row.insertCell().textContent = job.job_id;
    row.insertCell().textContent = job.scenario;
    row.insertCell().textContent = pt(`state.${job.state}`);
    row.insertCell().textContent = `${Math.round((job.fraction || 0) * 100)} %`;
    if (job.state === "done") row.onclick = (e) => { if (e.target !== pick) showJobLayers(job.job_id); };
    if (job.job_id === state.shown) row.classList.add("shown");
  }
  $("compare").disabled = !state.selected || state.selected.size === 0;
}

function toggleSelected(jobId, on) {
  state.selected = state.selected || new Set();
  if (on) state.selected.add(jobId); else state.selected.delete(jobId);
  $("compare").disabled = state.selected.size === 0;
}

// ----- KPIs -----------------------------------------------------------------------------------
const KPI_ROWS = [
  ["scenario", (r) => r.job.scenario],
  ["simulated_days", (r) => r.kpis.simulated_days],
  ["calls", (r) => r.kpis.calls],
  ["mean_min", (r) => r.kpis.response.mean_min],
  ["median_min", (r) => r.kpis.response.median_min],
  ["p90_min", (r) => r.kpis.response.p90_min],
  ["within_8_min", (r) => share(r.kpis.response.within_8_min)],
  ["within_15_min", (r) => share(r.kpis.response.within_15_min)],
  ["no_unit_free_share", (r) => share(r.kpis.queue.no_unit_free_share)],
  ["mean_wait_s", (r) => r.kpis.queue.mean_wait_s],
  ["utilisation", (r) => share(r.kpis.utilisation.mean)],
  ["coverage_8", (r) => share(r.layers && r.layers.properties.share_within["8_min"])],
  ["coverage_15", (r) => share(r.layers && r.layers.properties.share_within["15_min"])],
];

function share(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)} %`;
}

function cell(value) {
  if (value === null || value === undefined) return "—";
  return typeof value === "number" ? String(Math.round(value * 100) / 100) : String(value);
}

function renderKpis() {
  const results = [...state.results.values()].filter(Boolean);
  const head = $("kpi-table").tHead;
  const body = $("kpi-table").tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  if (!results.length) return;
  const top = head.insertRow();
  top.append(Object.assign(document.createElement("th"), { textContent: pt("kpi.job") }));
  for (const r of results) top.append(Object.assign(document.createElement("th"), { textContent: r.job.job_id }));
  for (const [key, value] of KPI_ROWS) {
    const row = body.insertRow();
    row.dataset.kpi = key;
    row.append(Object.assign(document.createElement("th"), { textContent: pt(`kpi.${key}`) }));
    for (const r of results) {
      const td = row.insertCell();
      td.dataset.job = r.job.job_id;
      td.textContent = cell(value(r));
    }
  }
}

// ----- coverage on the map ----------------------------------------------------------------------
function showJobLayers(jobId) {
  const result = state.results.get(jobId);
  if (!result || !result.layers) return;
  state.shown = jobId;
  drawCoverage(result.layers, `${jobId} · ${result.job.scenario}`);
  renderJobs();
}

async function loadStationSets() {
  const sets = await api("/planner/station-sets");
  const select = $("station-set");
  const previous = select.value;
  select.replaceChildren();
  for (const s of sets) {
    const option = new Option(`${s.name} (${s.on_graph}/${s.stations} ${pt("stations")})`, s.name);
    option.disabled = s.on_graph === 0;
    select.add(option);
  }
  if (previous) select.value = previous;
}

async function showStationSetCoverage() {
  $("coverage-error").textContent = "";
  const name = $("station-set").value;
  const hour = Number($("coverage-hour").value);
  try {
    const layers = await api(`/planner/coverage?stations=${encodeURIComponent(name)}&hour=${hour}`);
    state.shown = null;
    drawCoverage(layers, `${name} · ${String(hour).padStart(2, "0")}:00`);
    renderJobs();
  } catch (err) {
    $("coverage-error").textContent = errorText(err);
  }
}

function drawCoverage(collection, title) {
  if (layers.coverage) layers.coverage.remove();
  const svg = L.svg(); // SVG paths: one element per layer, styled and testable
  const byMinutes = (f) => (f.properties.layer === "isochrone" ? f.properties.minutes : 0);
  const features = [...collection.features].sort((a, b) => byMinutes(b) - byMinutes(a));
  layers.coverage = L.geoJSON({ type: "FeatureCollection", features }, {
    renderer: svg,
    style: (f) => ({ ...(ISO_STYLE[f.properties.minutes] || ISO_STYLE[15]), className: `cov-${f.properties.minutes}` }),
    pointToLayer: (f, latlng) => L.marker(latlng, {
      icon: L.divIcon({ className: "station-icon", html: "<span>115</span>", iconSize: [26, 16] }),
      title: f.properties.name,
    }).bindTooltip(esc(f.properties.name)),
  }).addTo(map);
  drawLegend(collection.properties || {}, title);
}

function drawLegend(props, title) {
  if (layers.legend) layers.legend.remove();
  const shares = props.share_within || {};
  layers.legend = L.control({ position: "bottomleft" });
  layers.legend.onAdd = () => {
    const box = L.DomUtil.create("div", "coverage-legend");
    box.innerHTML = `<b></b><div><i class="sw8"></i><span class="l8"></span></div>` +
      `<div><i class="sw15"></i><span class="l15"></span></div>`;
    box.querySelector("b").textContent = `${title} · ${pt("people_within")}`;
    box.querySelector(".l8").textContent = `${pt("within_8")}: ${share(shares["8_min"])}`;
    box.querySelector(".l15").textContent = `${pt("within_15")}: ${share(shares["15_min"])}`;
    return box;
  };
  layers.legend.addTo(map);
  layers.legendTitle = title;
  layers.legendProps = props;
}

// ----- the comparison report ----------------------------------------------------------------------
async function compareSelected() {
  const ids = [...(state.selected || [])];
  if (!ids.length) return;
  $("compare").disabled = true;
  $("run-error").textContent = "";
  try {
    const query = ids.map((id) => `job=${encodeURIComponent(id)}`).join("&");
    const res = await fetch(`/api/v1/planner/report?${query}`, { headers: { Authorization: `Bearer ${token()}` } });
    const text = await res.text();
    if (!res.ok) throw new ApiError(res.status, text);
    $("report").srcdoc = text;
    const link = $("report-link");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], { type: "text/html" }));
    $("report-box").hidden = false;
    $("report-box").dataset.jobs = ids.join(",");
  } catch (err) {
    $("run-error").textContent = errorText(err);
  } finally {
    $("compare").disabled = false;
  }
}

function errorText(err) {
  if (err instanceof ApiError && Array.isArray(err.detail)) return err.detail.map((d) => d.msg).join("; ");
  return err.message || String(err);
}

function renderAll() {
  applyPlannerStrings();
  onStatus(connected);
  loadScenarios();
  loadStationSets();
  renderJobs();
  renderKpis();
  if (layers.legendTitle) drawLegend(layers.legendProps, layers.legendTitle);
  const watched = state.jobs.get(state.watching);
  if (watched) renderProgress(watched);
}

main();
