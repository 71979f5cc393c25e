// Text into HTML: every value that did not come from our own code (call addresses, complaints,
// names from OpenStreetMap, ids) is escaped before it joins markup, so it shows as text and
// never runs (the pages' Content-Security-Policy is the second line of defence).

const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}
