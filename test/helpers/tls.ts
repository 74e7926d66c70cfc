/**
 * A throwaway self-signed certificate for the TLS listener (openssl, Debian package
 * `openssl`): the settings that turn the listener on, on a free port.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function throwawayTls(): Promise<{ dir: string; settings: Record<string, unknown> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-tls-'));
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
  return { dir, settings: { TLS_CERT_FILE: path.join(dir, 'cert.pem'), TLS_KEY_FILE: path.join(dir, 'key.pem'), MQTTS_PORT: 0 } };
}
