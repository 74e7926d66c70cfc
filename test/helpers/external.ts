/**
 * Tests that need a program we did not write (mosquitto clients, openssl, later
 * victoria-metrics and chromium) find it here. Locally a missing program skips those tests
 * with the reason; in CI, `.ci/run` installs the packages and sets REQUIRE_EXTERNAL=1, which
 * turns a skip into a failure.
 */
import { execFileSync } from 'node:child_process';

export const requireExternal = process.env.REQUIRE_EXTERNAL === '1';

/** Absolute path of a program on PATH, or null. */
export function findProgram(name: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/**
 * The programs' paths when all are present. When one is missing: throws if REQUIRE_EXTERNAL=1,
 * else returns the reason to skip.
 */
export function programs(names: string[], debianPackage: string): { ok: true; paths: Record<string, string> } | { ok: false; reason: string } {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const p = findProgram(n);
    if (p) paths[n] = p; else missing.push(n);
  }
  if (!missing.length) return { ok: true, paths };
  const reason = `${missing.join(', ')} not found (Debian package ${debianPackage}); install it to run these tests`;
  if (requireExternal) throw new Error(`REQUIRE_EXTERNAL=1 but ${reason}`);
  return { ok: false, reason };
}
