/**
 * Exports build their file a slice of rows at a time (csvOut.ts, xlsxOut.ts), letting the event
 * loop run between slices: a 50,000-row XLSX built in one go held the loop for about 1.5 s, and
 * MQTT PUBACKs, /ws pushes and every other request waited that long (docs/api.md, Table exports).
 */

/**
 * Rows per slice: about 10 ms of text building for the widest table (alerts, 20 columns; 2,000
 * rows held the loop 40 ms and more on two busy cores), so 100 slices for 50,000 rows.
 */
export const SLICE_ROWS = 500;

/** Let the event loop run (timers, socket I/O, other requests) before going on. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `rows` in slices of `size`, the event loop let run before each one. */
export async function* slices<T>(rows: readonly T[], size = SLICE_ROWS): AsyncGenerator<readonly T[]> {
  for (let at = 0; at < rows.length; at += size) {
    await yieldToLoop();
    yield rows.slice(at, at + size);
  }
}
