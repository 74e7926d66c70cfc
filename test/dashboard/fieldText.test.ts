/**
 * Server data in the UI's language (dashboard/ui/js/fieldText.js) as a table: field names,
 * times (epoch ms in China time), numbers by locale (no 4.538461538461538), yes/no, violation
 * types, fault codes and reasons by name; an alert's summary built from its codes in Chinese.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';

const table = JSON.parse(readFileSync(new URL('../../dashboard/ui/i18n.json', import.meta.url), 'utf8')) as Record<'zh' | 'en', Record<string, string>>;
interface FieldText {
  fieldName(k: string): string;
  fieldValue(k: string, v: unknown): string;
  fieldsLine(data: Record<string, unknown>): string;
  alertSummary(a: { rule: string; condition: string; summary: string; params: Record<string, unknown> }): string;
}
interface I18n { loadI18n(): Promise<void>; setLang(l: string): void }
/** the UI's own modules (plain JS in the browser), loaded by URL so the compiler does not type them */
const ui = async <T>(name: string): Promise<T> => (await import(new URL(`../../dashboard/ui/js/${name}`, import.meta.url).href)) as T;
let f: FieldText;
let i18n: I18n;

beforeAll(async () => {
  const store: Record<string, string> = {};
  (globalThis as { localStorage?: unknown }).localStorage = { getItem: (k: string) => store[k] ?? null, setItem: (k: string, v: string) => { store[k] = v; } };
  (globalThis as { document?: unknown }).document = { documentElement: {}, title: '' };
  (globalThis as { fetch?: unknown }).fetch = async () => ({ json: async () => table });
  i18n = await ui<I18n>('i18n.js');
  f = await ui<FieldText>('fieldText.js');
  await i18n.loadI18n();
  i18n.setLang('zh');
});

describe('fields in Chinese', () => {
  it.each([
    ['confidence', 0.8123456, '置信度', '0.812'],
    ['speedMps', 4.538461538461538, '速度 m/s', '4.538'],
    ['amountYuan', 12345.5, '金额 元', '12,345.5'],
    ['fillAt', Date.UTC(2026, 11, 7, 1, 2, 3), '充装时间', '12/07 09:02:03'],
    ['doorClosed', true, '门已关', '是'],
    ['type', 'rat', '类型', '老鼠'],
    ['types', 'smoking,trash_uncovered', '类型', '抽烟、垃圾桶未盖'],
    ['code', 11, '代码', `11 ${table.zh['fault.11']}`],
    ['serviceMode', 'inspection', '服务模式', '检修'],
    ['someNewField', 'x', 'someNewField', 'x'],
    ['storeId', null, '门店编号', '-'],
    ['count', 1e13, '次数', '10,000,000,000,000'],
  ] as const)('%s = %s: %s %s', (k, v, name, value) => {
    expect(f.fieldName(k)).toBe(name);
    expect(f.fieldValue(k, v)).toBe(value);
  });
  it('a reading in a line', () => {
    expect(f.fieldsLine({ floor: 7, doorClosed: false, rssi: -61 })).toBe('楼层 7，门已关 否，信号强度 -61');
  });
  it('an alert\'s summary from its codes in Chinese; the engine\'s own in English', () => {
    const a = { rule: 'kitchen.violation', condition: 'rat', summary: 'Kitchen violation: rat (class 1) at store S-1, confidence 0.93',
      params: { type: 'rat', riskClass: 1, confidence: 0.93, storeId: 'S-1', area: null } };
    expect(f.alertSummary(a)).toBe(`${table.zh['rule.kitchen.violation']} · 老鼠：风险等级 1，置信度 0.93`);
    expect(f.alertSummary(a)).not.toMatch(/[A-Za-z]{3,}/);
    i18n.setLang('en');
    expect(f.alertSummary(a)).toBe(a.summary);
    i18n.setLang('zh');
  });
});
