// One translation table (../i18n.json) for every label, status, severity, rule name, fault
// code and violation type; Chinese by default, English on the switch (kept in localStorage).
let table = { zh: {}, en: {} };
let lang = localStorage.getItem('lang') === 'en' ? 'en' : 'zh';

export async function loadI18n() {
  table = await (await fetch('/i18n.json')).json();
  applyLang();
}

export const getLang = () => lang;

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  localStorage.setItem('lang', lang);
  applyLang();
}

function applyLang() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
}

/** The text of a key in the current language; falls back to English, then to `fallback` or the key. */
export function t(key, fallback) {
  return table[lang][key] ?? table.en[key] ?? fallback ?? key;
}

/** `{name}` placeholders of a translated text filled in: fill(t('users.confirmDelete'), { user }). */
export function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (Object.hasOwn(vars, k) ? String(vars[k]) : m));
}

/** A translated value when the table has one (e.g. `violation.rat`), else the value itself. */
export function tv(prefix, value) {
  return t(`${prefix}.${value}`, String(value));
}

/** What the alert is about, in words: the violation type, fault code, refusal reasons... */
export function conditionLabel(a) {
  const c = String(a.condition ?? '');
  if (a.rule === 'kitchen.violation') return tv('violation', c);
  if (a.rule === 'elevator.fault') return `${c} ${tv('fault', c)}`;
  if (a.rule === 'cylinder.refused') {
    const [code, reasons = ''] = c.split('|');
    return `${code}: ${reasons.split('+').filter(Boolean).map((r) => tv('reason', r)).join(lang === 'zh' ? '、' : ', ')}`;
  }
  if (a.rule === 'dispenser.tamper') {
    const [disp, kind] = c.split('/');
    return `${disp} ${tv('tamper', kind)}`;
  }
  return c;
}

export const ruleName = (rule) => tv('rule', rule);

const fmt = {};
export function fmtTime(ms, withDate = true) {
  if (ms === null || ms === undefined) return '-';
  const key = lang + withDate;
  fmt[key] ??= new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: 'Asia/Shanghai', hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit',
    ...(withDate ? { month: '2-digit', day: '2-digit' } : {}),
  });
  return fmt[key].format(new Date(ms));
}

const CST = 8 * 3_600_000;

/** `ms` as the value of a datetime-local input, in China Standard Time: "2026-11-10T14:03:05". */
export function cstInput(ms) {
  return new Date(ms + CST).toISOString().slice(0, 19);
}

/** A datetime-local value read as China Standard Time; NaN when it is not one. */
export function parseCstInput(v) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(\.\d+)?$/.exec(String(v ?? '').trim());
  return m ? Date.parse(`${m[1]}${m[2] ?? ':00'}+08:00`) : NaN;
}

/** 75 s -> "01:15", 3725 s -> "1:02:05" */
export function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  if (h >= 48) return `${Math.floor(h / 24)}${lang === 'zh' ? '天' : 'd'} ${h % 24}${lang === 'zh' ? '时' : 'h'}`;
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
