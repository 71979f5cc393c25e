// A new job has to be noticed at 3 a.m. with the tablet on the dashboard: a tone and a
// vibration, repeated until the crew acknowledges, and a screen that does not go to sleep.
// Browsers let a page make sound only after a user gesture, so the first touch or key press
// (signing in is one) unlocks the audio.

const RING_EVERY_MS = 4000;

export class JobAlert {
  constructor() {
    this.ctx = null;
    this.timer = null;
    this.callId = null;
    this.rings = 0; // tones started (read by the browser tests)
    const unlock = () => this.audio();
    for (const type of ["pointerdown", "keydown"]) window.addEventListener(type, unlock, { capture: true });
  }

  get active() { return this.timer !== null; }

  audio() {
    if (!this.ctx) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context) this.ctx = new Context();
    }
    if (this.ctx && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    return this.ctx;
  }

  // Ring for `callId` until stop(); a job already ringing is left as it is.
  start(callId) {
    if (this.callId === callId && this.active) return;
    this.stop();
    this.callId = callId;
    document.body.classList.add("alerting");
    this.ring();
    this.timer = setInterval(() => this.ring(), RING_EVERY_MS);
  }

  stop() {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.callId = null;
    document.body.classList.remove("alerting");
    if (navigator.vibrate) navigator.vibrate(0);
  }

  ring() {
    this.rings += 1;
    if (navigator.vibrate) navigator.vibrate([400, 200, 400]);
    const ctx = this.audio();
    if (!ctx) return;
    const now = ctx.currentTime;
    for (let i = 0; i < 3; i++) { // three short high-low tones
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + i * 0.35);
      osc.stop(now + i * 0.35 + 0.25);
    }
  }
}

// Keep the screen on while signed in (where the browser allows it: secure pages only).
export function keepScreenOn() {
  if (!navigator.wakeLock) return;
  const acquire = () => navigator.wakeLock.request("screen").catch(() => {});
  acquire();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") acquire();
  });
}
