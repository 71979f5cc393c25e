// Websocket client for the hanoi115 live protocol v1: snapshot, ordered events, resume by seq.
// A frame is one message or an array of messages. On reconnect the client sends its last seq
// and receives exactly the missed events (or a fresh snapshot).

import { token, unauthorized } from "./api.js";

export const PROTOCOL_VERSION = 1;

export class LiveConnection {
  constructor({ role, unitId = null, onSnapshot, onEvent, onMessage, onStatus }) {
    this.role = role;
    this.unitId = unitId;
    this.lastSeq = null;
    this.onSnapshot = onSnapshot || (() => {});
    this.onEvent = onEvent || (() => {});
    this.onMessage = onMessage || (() => {});
    this.onStatus = onStatus || (() => {});
    this.ws = null;
    this.backoffMs = 500;
    this.heartbeatTimer = null;
    this.closedByUser = false;
  }

  url() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ role: this.role, v: String(PROTOCOL_VERSION) });
    if (this.unitId) params.set("unit_id", this.unitId);
    if (this.lastSeq !== null) params.set("last_seq", String(this.lastSeq));
    const bearer = token();
    if (bearer) params.set("token", bearer);
    return `${proto}//${location.host}/ws?${params}`;
  }

  connect() {
    this.closedByUser = false;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.backoffMs = 500;
      this.onStatus(true);
      if (this.role === "crew") this.startHeartbeat();
    };
    ws.onmessage = (ev) => {
      const data = JSON.parse(ev.data);
      for (const msg of Array.isArray(data) ? data : [data]) this.dispatch(msg);
    };
    ws.onclose = (ev) => {
      this.onStatus(false);
      this.stopHeartbeat();
      if (this.closedByUser) return;
      if (ev.code === 4401) { // token missing or expired: sign in again (web/security)
        unauthorized();
        return;
      }
      setTimeout(() => this.connect(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 10000);
    };
  }

  dispatch(msg) {
    if (msg.v !== PROTOCOL_VERSION) console.warn("protocol version", msg.v);
    if (msg.type === "snapshot") {
      this.lastSeq = msg.seq;
      this.onSnapshot(msg.state, msg);
    } else if (msg.type === "event") {
      if (this.lastSeq !== null && msg.seq <= this.lastSeq) return; // never apply twice
      this.lastSeq = msg.seq;
      this.onEvent(msg);
    } else {
      this.onMessage(msg);
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    const beat = () => this.send({ type: "heartbeat", device_time_s: Date.now() / 1000 });
    beat();
    this.heartbeatTimer = setInterval(beat, 15000);
  }

  stopHeartbeat() {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  close() {
    this.closedByUser = true;
    this.stopHeartbeat();
    if (this.ws) this.ws.close();
  }
}
