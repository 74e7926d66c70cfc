/**
 * Headless Chromium for the browser tests (Debian package `chromium`, found through
 * external.ts): a fresh temporary profile of its own, removed on close, and nothing that
 * reaches past loopback (no background networking, updates or sync).
 */
import { chromium, type Browser } from 'playwright-core';
import { programs } from './external.js';

export const browserProgram = programs(['chromium'], 'chromium');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: browserProgram.ok ? browserProgram.paths.chromium : '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}
