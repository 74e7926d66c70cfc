/** What the CLI tests share: an io that records output, the admin's API flags, fixture files. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliIo } from '../../simulators/cli.js';
import { ADMIN_PASSWORD, type TestService } from './service.js';

/** An io that records what a CLI prints; the environment is only what the test gives. */
export function captured(env: Record<string, string> = {}): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, env, out: (l) => void stdout.push(...l.split('\n')), err: (l) => void stderr.push(...l.split('\n')) };
}

/** `--api`, `--user`, `--password` of the test service's admin. */
export const adminApiArgs = (ts: TestService): string[] => ['--api', ts.httpUrl, '--user', 'admin', '--password', ADMIN_PASSWORD];

/** Write `text` to `dir/name` and return the path. */
export function fixtureFile(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
