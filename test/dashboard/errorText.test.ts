/**
 * Server errors in the UI's language (dashboard/ui/js/errorText.js): every code of the catalog
 * (core/codes.ts, docs/error-codes.md) has its Chinese text, and an error is shown by its code,
 * its refusal's reason or its invalid fields, never the service's English words in Chinese.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codes } from '../../core/codes.js';

const table = JSON.parse(readFileSync(new URL('../../dashboard/ui/i18n.json', import.meta.url), 'utf8')) as Record<'zh' | 'en', Record<string, string>>;

describe('error texts by code', () => {
  it.each(Object.keys(codes))('%s has a Chinese text', (code) => {
    expect(table.zh[`code.${code}`], `code.${code} in the zh table of dashboard/ui/i18n.json`).toMatch(/\p{Script=Han}/u);
  });

  it('picks the code\'s text, the reason\'s, the fields; English keeps the server\'s words', async () => {
    const store: Record<string, string> = {};
    (globalThis as { localStorage?: unknown }).localStorage = { getItem: (k: string) => store[k] ?? null, setItem: (k: string, v: string) => { store[k] = v; } };
    (globalThis as { document?: unknown }).document = { documentElement: {}, title: '' };
    (globalThis as { fetch?: unknown }).fetch = async () => ({ json: async () => table });
    // the UI's own modules (plain JS in the browser), loaded by URL so the compiler does not type them
    const ui = async <T>(name: string): Promise<T> => (await import(new URL(`../../dashboard/ui/js/${name}`, import.meta.url).href)) as T;
    const i18n = await ui<{ loadI18n(): Promise<void>; setLang(l: string): void }>('i18n.js');
    const { errorText } = await ui<{ errorText(code: string, e: { message?: string; details?: unknown }): string }>('errorText.js');
    await i18n.loadI18n();
    i18n.setLang('zh');
    expect.soft(errorText('alert_conflict', { message: 'alert a1 is acknowledged by the store\'s answer', details: { reason: 'rectification' } }))
      .toBe(`${table.zh['code.alert_conflict']}${table.zh['refusal.rectification'] ? `: ${table.zh['refusal.rectification']}` : ''}`);
    expect(errorText('validation', { message: 'invalid body: note: Too small', details: [{ in: 'body', path: 'note', message: 'Too small' }] })).toBe(`${table.zh['code.validation']}: body note`);
    expect(errorText('device_not_found', { message: 'no device x' })).toBe('设备不存在');
    expect(errorText('no_such_code', { message: 'the server says' })).toBe('the server says');
    i18n.setLang('en');
    expect(errorText('device_not_found', { message: 'no device x' })).toBe('no device x');
  });
});
