/**
 * FNV-1a, 32 bits, over a string's UTF-16 code units: a stable hash across processes, builds
 * and restarts, for what must land in the same place every time (a rule key's leaf in its
 * state, a key's slot in cluster mode, a store's draw, a simulated device's random stream).
 * Not for secrets.
 */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
