/** A CliIo that records what a CLI printed, for in-process runs. */
import type { CliIo } from '../../simulators/cli.js';

export function captureIo(env: Record<string, string | undefined> = {}): CliIo & { stdout: string[]; stderr: string[]; text(): string } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout, stderr, env,
    out: (l) => void stdout.push(l),
    err: (l) => void stderr.push(l),
    text: () => [...stdout, ...stderr].join('\n'),
  };
}
