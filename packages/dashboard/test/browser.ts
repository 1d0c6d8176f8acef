/**
 * Debian's Chromium for the dashboard's browser tests: where it is, whether the tests run without
 * it (skipped, unless brokers are required as in CI, where its absence fails the run), and a
 * headless profile launched with the flags this machine's closed network needs.
 *
 * @example
 * ```ts
 * requireChromiumInCi();
 * describe.skipIf(!hasChromium)('…', () => { … });
 * const context = await launchChromium(join(root, 'chromium-profile'));
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';
import { brokersRequired } from '@missive/testing';

/** Debian's package `chromium`. */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether Chromium is installed here. */
export const hasChromium = existsSync(CHROMIUM);

/** Throws when Chromium is missing and `MISSIVE_REQUIRE_BROKERS=1` says every test must run. */
export function requireChromiumInCi(): void {
  if (!hasChromium && brokersRequired())
    throw new Error(`${CHROMIUM} is missing (MISSIVE_REQUIRE_BROKERS=1 makes it required): apt-get install chromium, as .ci/run does`);
}

/** Without the background-networking flags Chromium's connections are refused by this machine's closed network. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium with its profile in `profileDir`, 1400×900. */
export function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 900 },
  });
}
