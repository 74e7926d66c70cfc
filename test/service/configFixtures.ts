/** What the config suites share: a temporary directory for config files (removed after the file's tests), and the ConfigError a call must throw. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { ConfigError } from '../../service/config.js';

export const dir = mkdtempSync(path.join(tmpdir(), 'supervision-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
export function configFile(content: string): string {
  const f = path.join(dir, `config-${fileNo++}.json`);
  writeFileSync(f, content);
  return f;
}

export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
