// Leaflet map shared by the dispatcher and crew pages: our own road graph drawn as GeoJSON
// (no tile server needed), optional tiles, stations and hospitals, OSM attribution.

import { api } from "./api.js";
import { esc } from "./html.js";

export const STATUS_COLOURS = {
  off_duty: "#7f8c8d", available_at_station: "#27ae60", available_on_road: "#2ecc71",
  dispatched: "#e67e22", en_route: "#f39c12", on_scene: "#c0392b", transporting: "#8e44ad",
  at_hospital: "#2980b9", returning: "#16a085", out_of_service: "#34495e",
};
export const PRIORITY_COLOURS = { P1: "#d50000", P2: "#ff6d00", P3: "#fbc02d", P4: "#1e88e5" };

export async function createMap(elementId, { drawNetwork = true } = {}) {
  const config = await api("/config");
  const map = L.map(elementId, { preferCanvas: true, zoomControl: true });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("© OpenStreetMap contributors");
  if (config.tile_url) L.tileLayer(config.tile_url, { maxZoom: 19 }).addTo(map);
  const [w, s, e, n] = config.bounds;
  map.fitBounds([[s, w], [n, e]]);
  if (drawNetwork) {
    const network = await api("/network");
    L.geoJSON(network, {
      renderer: L.canvas(),
      interactive: false,
      style: (f) => ({ color: "#9aa5b1", weight: f.properties && f.properties.major ? 2.2 : 1, opacity: 0.8 }),
    }).addTo(map);
  }
  return { map, config };
}

export async function drawStationsAndHospitals(map) {
  const [stations, hospitals] = await Promise.all([api("/stations"), api("/hospitals")]);
  const stationLayer = L.geoJSON(stations, {
    pointToLayer: (f, latlng) => L.marker(latlng, {
      icon: L.divIcon({ className: "station-icon", html: "<span>115</span>", iconSize: [26, 16] }),
      title: f.properties.name,
    }).bindTooltip(esc(f.properties.name)),
  }).addTo(map);
  const hospitalLayer = L.geoJSON(hospitals, {
    pointToLayer: (f, latlng) => L.circleMarker(latlng, {
      radius: 5, color: "#1565c0", weight: 2, fillColor: "#fff", fillOpacity: 1,
    }).bindTooltip(`✚ ${esc(f.properties.name)}`),
  }).addTo(map);
  return { stations, hospitals, stationLayer, hospitalLayer };
}

export function unitIcon(unit, { connected = true, awaitingAck = false } = {}) {
  const colour = STATUS_COLOURS[unit.status] || "#555";
  const cls = ["unit-icon", connected ? "" : "unit-lost", awaitingAck ? "unit-ack" : ""].join(" ");
  return L.divIcon({
    className: cls,
    html: `<span style="background:${esc(colour)}">${esc(unit.unit_id)}</span>`,
    iconSize: null,
  });
}
