// The wall's audible alarm: two short tones made with WebAudio oscillators (no sound file),
// repeated every BEEP_EVERY_MS while an unacknowledged critical or overdue alert exists.
//
// Browsers let a page sound only after a user gesture. Until then the audio context would be
// suspended: nothing is played, nothing throws, and the wall shows "click to enable sound"; the
// first click or key on the page starts it. Mute silences the alarm for MUTE_MS (5 minutes, a
// countdown shows) and never longer: there is no permanent off, and muting again only starts
// the 5 minutes again. The mute and the audio context belong to the page, not to one view.
export const MUTE_MS = 5 * 60_000;
export const BEEP_EVERY_MS = 4000;

let ctx = null;
let mutedUntil = 0;
let lastBeep = -Infinity;
let ringing = false;
const listeners = new Set();
const changed = () => { for (const fn of listeners) fn(); };

const hasBeenActive = () => navigator.userActivation?.hasBeenActive === true;

/** The audio context, made on first need; null where the browser has none or refuses one. */
function context() {
  if (ctx) return ctx;
  const AC = window.AudioContext ?? window.webkitAudioContext;
  if (typeof AC !== 'function') return null;
  try { ctx = new AC(); } catch { return null; }
  ctx.onstatechange = changed;
  return ctx;
}

/** A user gesture: the moment a page may start its sound. */
function unlock() {
  const c = context();
  if (c && c.state !== 'running' && c.state !== 'closed') {
    try { Promise.resolve(c.resume()).then(changed, () => {}); } catch { /* refused: the hint stays */ }
  }
  changed();
}
let listening = false;

function beep(c) {
  const t0 = c.currentTime + 0.02;
  for (const [freq, at] of [[880, 0], [660, 0.28]]) {
    const osc = c.createOscillator();
    const gain = c.createGain();
    osc.type = 'square';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + at);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.22);
    osc.connect(gain);
    gain.connect(c.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + 0.24);
  }
}

export const alarm = {
  /** Listen for gestures (once per page) and for changes of the sound state. */
  watch(fn) {
    if (!listening) {
      listening = true;
      document.addEventListener('pointerdown', unlock, { capture: true });
      document.addEventListener('keydown', unlock, { capture: true });
    }
    // the page was used already (the sign-in): a context made now may sound
    if (hasBeenActive()) context();
    listeners.add(fn);
    return () => listeners.delete(fn);
  },

  /** Whether an alert calls for the alarm now (the wall decides, every second). */
  set(on) {
    if (on && !ringing) lastBeep = -Infinity;
    ringing = on;
  },

  /** Every second: a beep when ringing, not muted and due. Never throws. */
  tick(now) {
    if (!ringing || now < mutedUntil || now - lastBeep < BEEP_EVERY_MS) return;
    const c = ctx ?? (hasBeenActive() ? context() : null);
    if (!c || c.state !== 'running') return;
    try {
      beep(c);
      lastBeep = now;
    } catch { /* no audio device: the banner still shows */ }
  },

  mute(now) {
    mutedUntil = now + MUTE_MS;
    changed();
  },

  unmute() {
    mutedUntil = 0;
    lastBeep = -Infinity;
    changed();
  },

  /** ms of mute left (0: not muted) */
  mutedLeft: (now) => Math.max(0, mutedUntil - now),
  get ringing() { return ringing; },
  /** 'on', 'blocked' (needs a click first) or 'unsupported' */
  sound() {
    const AC = window.AudioContext ?? window.webkitAudioContext;
    if (typeof AC !== 'function') return 'unsupported';
    if (ctx) return ctx.state === 'running' ? 'on' : 'blocked';
    return hasBeenActive() ? 'on' : 'blocked';
  },
  /** Start the sound from a click (the hint's button). */
  enable: unlock,
};
