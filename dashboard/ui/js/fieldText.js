// Server data in the UI's language: field names (`field.<name>` in i18n.json, else the name),
// values formatted by locale (times in China Standard Time, numbers to at most 3 decimals, yes/no,
// violation types, fault codes and refusal reasons by their translated names), and an alert's
// summary built from its rule, condition and parameters rather than the engine's English line.
// Pure but for the translation table: nothing here reads the DOM.
import { conditionLabel, fmtTime, getLang, ruleName, t, tv } from './i18n.js';

/** A field's name in the current language. */
export const fieldName = (k) => t(`field.${k}`, k);

/** Epoch milliseconds from 2001 to 2286: a time, when the field's name says so. */
const isTime = (k, v) => typeof v === 'number' && v > 1e12 && v < 1e13 && /(At|^ts|Ts|^at|Time)$/.test(k);

const numbers = {};
export function fmtNumber(v) {
  const lang = getLang();
  numbers[lang] ??= new Intl.NumberFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { maximumFractionDigits: 3 });
  return numbers[lang].format(v);
}

/** A field's value in the current language. */
export function fieldValue(k, v) {
  if (v === null || v === undefined || v === '') return '-';
  if (isTime(k, v)) return fmtTime(v);
  if (typeof v === 'boolean') return t(v ? 'field.yes' : 'field.no');
  if (typeof v === 'number') {
    if (k === 'code') return `${v} ${tv('fault', v)}`;
    return fmtNumber(v);
  }
  if (typeof v === 'string') {
    if (k === 'type' || k === 'types') return v.split(',').map((x) => tv('violation', x)).join(getLang() === 'zh' ? '、' : ', ');
    if (k === 'reason' || k === 'reasons') return v.split(/[,+]/).filter(Boolean).map((x) => tv('reason', x)).join(getLang() === 'zh' ? '、' : ', ');
    if (k === 'point') return tv('point', v);
    if (k === 'serviceMode') return tv('mode', v);
    if (k === 'decision') return tv('decision', v);
    return v;
  }
  if (Array.isArray(v)) return v.map((x) => fieldValue(k, x)).join(', ');
  return JSON.stringify(v);
}

/** `name value` pairs of an object, in the current language, for a compact line. */
export function fieldsLine(data) {
  return Object.entries(data ?? {}).filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${fieldName(k)} ${fieldValue(k, v)}`).join(getLang() === 'zh' ? '，' : ', ');
}

/** Parameters the summary leaves out: shown elsewhere, or internal. */
const quiet = new Set(['type', 'windowMs', 'storeId', 'detectedBy']);

/**
 * The alert in one line of the current language: rule, condition, and its parameters. English
 * keeps the engine's own summary (written in English); other languages build it from codes.
 */
export function alertSummary(a) {
  if (getLang() === 'en' && a.summary) return a.summary;
  const what = [ruleName(a.rule), conditionLabel(a)].filter(Boolean).join(' · ');
  const params = Object.entries(a.params ?? {}).filter(([k, v]) => !quiet.has(k) && v !== null && v !== '').slice(0, 6);
  return params.length ? `${what}：${params.map(([k, v]) => `${fieldName(k)} ${fieldValue(k, v)}`).join('，')}` : what;
}
