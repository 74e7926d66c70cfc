/**
 * broker/internals/ patches aedes' and mqtt-packet's internals; the broker refuses to start
 * on other versions than the ones the patches were written against, with a clear message.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { installedVersion, internalsProblems, PATCHED_VERSIONS } from '../../../broker/internals/selfCheck.js';

describe('the patched internals self-check', () => {
  it('package.json declares exactly the patched versions, and they are the installed ones', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    for (const [name, version] of Object.entries(PATCHED_VERSIONS)) {
      expect(pkg.dependencies[name], name).toBe(version);
      expect(installedVersion(name as keyof typeof PATCHED_VERSIONS)).toBe(version);
    }
    expect(internalsProblems()).toEqual([]);
  });

  it.each([
    [{ aedes: '1.2.1', 'mqtt-packet': '9.0.2' }, 'aedes 1.2.1 is installed; broker/internals/ patches the internals of aedes 1.2.0 exactly'],
    [{ aedes: '1.2.0', 'mqtt-packet': '10.0.0' }, 'mqtt-packet 10.0.0 is installed; broker/internals/ patches the internals of mqtt-packet 9.0.2 exactly'],
  ])('another version (%o) is refused, naming it', (versions, message) => {
    expect(internalsProblems(versions)).toEqual([message]);
  });
});
