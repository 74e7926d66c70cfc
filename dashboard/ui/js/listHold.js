// The pointer holds the alert list (alertList.js): while the pointer moves over the list, no
// row moves, so a click lands on the row the operator aimed at. The hold ends when the pointer
// leaves or has been still (and the wheel unused) for HOLD_IDLE_MS.

/** a pointer still this long over the list no longer holds it */
export const HOLD_IDLE_MS = 8000;

/**
 * Where the pointer is on the page, and whether the pointermove being dispatched moved it:
 * Chromium sends a pointermove at the old place when the page changes under a still pointer,
 * which is not a move.
 */
const pointer = { x: NaN, y: NaN, moved: false };
let tracking = false;
function trackPointer() {
  if (tracking) return;
  tracking = true;
  document.addEventListener('pointermove', (e) => {
    pointer.moved = e.clientX !== pointer.x || e.clientY !== pointer.y;
    pointer.x = e.clientX;
    pointer.y = e.clientY;
  }, { capture: true, passive: true });
}

/**
 * Follow the pointer over `scroller`; `onLeave` is called when it leaves. Returns
 * `holding(now)`: whether the pointer holds the list at `now`.
 */
export function listHold(scroller, onLeave) {
  trackPointer();
  let hovering = false;
  /** when the pointer last moved over the list (or the wheel scrolled it) */
  let movedAt = -Infinity;

  scroller.addEventListener('pointerenter', () => { hovering = true; });
  scroller.addEventListener('pointerleave', () => {
    hovering = false;
    onLeave();
  });
  scroller.addEventListener('pointermove', () => {
    hovering = true;
    if (pointer.moved) movedAt = Date.now();
  }, { passive: true });
  scroller.addEventListener('wheel', () => { movedAt = Date.now(); }, { passive: true });

  return (now) => hovering && now - movedAt < HOLD_IDLE_MS;
}
