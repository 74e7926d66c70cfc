/**
 * The patches in this folder reach into aedes' and mqtt-packet's internals (the parser's
 * `_parseLength`, `parse` and state, the module's `writeToStream`): they are written against
 * one version of each, declared exactly in package.json. At start the broker checks that the
 * installed versions are those and that the functions it patches are there, and refuses to
 * start with a clear message otherwise, rather than fail on the first connection or, worse,
 * run with a parser it no longer understands.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';

/** The versions the patches were written and tested against (package.json pins the same). */
export const PATCHED_VERSIONS = { aedes: '1.2.0', 'mqtt-packet': '9.0.2' } as const;

export type PatchedPackage = keyof typeof PATCHED_VERSIONS;

const require = createRequire(import.meta.url);

/** The installed version of a package, read from its package.json next to its entry point. */
export function installedVersion(name: PatchedPackage): string {
  // aedes' exports map hides its package.json: walk up from the entry point
  let dir = path.dirname(require.resolve(name));
  for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch { /* not here: one level up */ }
  }
  throw new Error(`cannot find the installed version of ${name}`);
}

interface ParserPrototype { _parseLength?: unknown; parse?: unknown; _emitError?: unknown }

/** Problems that forbid starting: none when the installed packages are the patched ones. */
export function internalsProblems(versions: Record<PatchedPackage, string> = {
  aedes: installedVersion('aedes'), 'mqtt-packet': installedVersion('mqtt-packet'),
}): string[] {
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(PATCHED_VERSIONS) as Array<[PatchedPackage, string]>) {
    if (versions[name] !== expected) problems.push(`${name} ${versions[name]} is installed; broker/internals/ patches the internals of ${name} ${expected} exactly`);
  }
  const exportsObject = mqttPacket as unknown as { writeToStream?: unknown; parser?: (opts?: unknown) => object };
  if (typeof exportsObject.writeToStream !== 'function') problems.push('mqtt-packet no longer exports writeToStream (pubackWriter.ts replaces it)');
  const parser = typeof exportsObject.parser === 'function' ? Object.getPrototypeOf(exportsObject.parser()) as ParserPrototype : null;
  for (const fn of ['_parseLength', 'parse', '_emitError'] as const) {
    if (typeof parser?.[fn] !== 'function') problems.push(`mqtt-packet's parser has no ${fn}() (packetGuard.ts and publishReader.ts use it)`);
  }
  return problems;
}

/** Throws, naming every problem and the fix, unless the patched internals are as expected. */
export function assertPatchedInternals(): void {
  const problems = internalsProblems();
  if (problems.length) {
    throw new Error(`the MQTT layer refuses to start: ${problems.join('; ')}. Install the locked dependencies (npm ci), or update broker/internals/ and PATCHED_VERSIONS together`);
  }
}
