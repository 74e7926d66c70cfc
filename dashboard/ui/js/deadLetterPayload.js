// A dead letter's raw payload, shown safely (docs/dashboard.md, Dead letters): the bytes come
// from `rawBase64` (exact; `raw` has U+FFFD where the bytes are not UTF-8) and are shown as text
// in a <pre> (a text node, never HTML) when they are valid UTF-8, else as a hex dump.
import { h } from './dom.js';
import { fill, t } from './i18n.js';

/** The bytes of a base64 string. */
export function bytesOf(base64) {
  const bin = atob(base64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The bytes as UTF-8 text, or null when they are not valid UTF-8. */
export function utf8Text(bytes) {
  try { return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes); } catch { return null; }
}

/** `00000010  7b 22 6d …  |{"m…|`: 16 bytes a line, printable ASCII on the right. */
export function hexDump(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}

/**
 * The payload block of a dead letter: its size (and how much was kept), then the bytes as text
 * or hex, with a switch to hex for text too (a control character is easier to see there).
 */
export function payloadBlock(d) {
  const bytes = bytesOf(d.rawBase64);
  const text = utf8Text(bytes);
  const size = fill(t('dl.bytes'), { n: d.rawSize });
  const kept = d.rawTruncated ? fill(t('dl.truncated'), { kept: bytes.length, size: d.rawSize }) : null;
  const pre = h('pre', { class: 'payload', id: 'dl-payload' });
  const mode = h('span', { class: 'muted', id: 'dl-payload-mode' });
  let hex = text === null;
  const paint = () => {
    pre.textContent = hex ? hexDump(bytes) : text;
    pre.dataset.mode = hex ? 'hex' : 'text';
    mode.textContent = hex ? (text === null ? t('dl.asHexNotUtf8') : t('dl.asHex')) : t('dl.asText');
    toggle.textContent = hex ? t('dl.showText') : t('dl.showHex');
    toggle.disabled = text === null;
  };
  const toggle = h('button', { type: 'button', id: 'dl-payload-toggle', onclick: () => { hex = !hex; paint(); } });
  paint();
  return h('div', { class: 'payload-block' },
    h('div', { class: 'filters' }, h('span', { id: 'dl-payload-size' }, size), mode, toggle),
    kept ? h('div', { class: 'notice warn', id: 'dl-payload-truncated' }, kept) : null,
    bytes.length ? pre : h('p', { class: 'muted' }, t('dl.noPayload')));
}
