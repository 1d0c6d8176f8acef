/**
 * The dashboard in real Chromium against hostile messages: whoever can publish to the broker
 * controls a message's type, headers, payload, the text of the error its handler throws, and (with
 * an announcement of their own) a service's name, version, host and health reasons. Each carries markup that would run a script if
 * the page ever built HTML from it (`<img onerror>`, `"><svg onload>`, `</script><script>`, a
 * `javascript:` URL), plus a control character (U+0001, not allowed in XML) in the error text.
 *
 * Every view that shows them is opened; the test asserts that each text is shown literally, that no
 * script ran (`window.__pwned` stays unset) and that the page's Content-Security-Policy had nothing
 * to block (an injection it stopped still shows as a violation). Every step waits for an element or
 * a bus event, never for time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchChromium, requireChromiumInCi } from './browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createBus,
  createEnvelope,
  defineEvent,
  jsonCodec,
  MemoryBroker,
  silentLogger,
  UnrecoverableError,
  type Bus,
  type Transport,
} from '@missive/core';
import { announce } from '../src/catalog/announce.js';
import { ANNOUNCED } from '../src/catalog/announcement.js';
import { journal, type Journal } from '../src/journal/journal.js';
import { SqliteJournalStore } from '../src/journal/sqlite-journal-store.js';
import { startDashboard, type Dashboard } from '../src/server/dashboard-server.js';

/** Markup that sets `window.__pwned` if it is ever parsed as HTML (or SVG) and run. */
const EVIL = {
  service: 'pay<img src=x onerror="window.__pwned=\'service\'">',
  version: '1"><svg onload="window.__pwned=\'version\'">',
  reason: '<script>window.__pwned="reason"</script>',
  type: 'shop.evil"><img src=x onerror="window.__pwned=\'type\'">',
  header: '</script><script>window.__pwned="header"</script>',
  note: '</script><script>window.__pwned="payload"</script>',
  link: 'javascript:window.__pwned="link"',
  error: 'refused <img src=x onerror="window.__pwned=\'error\'"> \u0001 by the gateway',
} as const;

const Placed = defineEvent('shop.order-placed', z.object({ orderId: z.string(), note: z.string(), link: z.string() }));

const root = mkdtempSync(join(tmpdir(), 'missive-dashboard-hostile-'));
let broker: MemoryBroker;
let transport: Transport;
let store: SqliteJournalStore;
let gateway: Bus;
let payment: Bus;
let journals: Journal[];
let dashboard: Dashboard;
let context: BrowserContext;
let page: Page;

function deadLettered(bus: Bus, type: string): Promise<string> {
  return new Promise((resolve) => {
    const off = bus.on('handled', (e) => {
      if (e.type !== type || e.outcome !== 'dead-lettered') return;
      off();
      resolve(e.messageId);
    });
  });
}
const tab = (view: string) => page.click(`#tabs button[data-view="${view}"]`);
/** What the page recorded: a script that ran, and what its policy blocked. */
const record = () => page.evaluate<{ pwned: unknown; blocked: string[] }>('({ pwned: window.__pwned, blocked: window.__blocked })');

beforeAll(async () => {
  broker = new MemoryBroker();
  store = new SqliteJournalStore({ path: ':memory:' });
  const bus = (service: string) =>
    createBus({ service, transport: broker.transport(), logger: silentLogger, retry: { immediate: 0, delayed: false } });
  gateway = bus('gateway');
  payment = bus('payment');
  payment.endpoint('payment', (e) =>
    e.on(Placed, () => {
      throw new UnrecoverableError(EVIL.error);
    }),
  );
  journals = [gateway, payment].map((b) => journal(b, { store, payloads: { redact: [] }, flushMs: 10 }));
  for (const b of [gateway, payment]) announce(b, { version: '1.0.0' });
  await gateway.start();
  await payment.start();
  transport = broker.transport();
  await transport.connect();
  const placed = deadLettered(payment, Placed.name);
  await gateway.publish(Placed, { orderId: 'o-evil', note: EVIL.note, link: EVIL.link });
  // A message of a type nobody handles, sent straight to the endpoint's queue: dead-lettered as such.
  const unknown = deadLettered(payment, EVIL.type);
  const envelope = createEnvelope({ type: EVIL.type, source: '/missive/evil', data: { orderId: 'o-unknown' } });
  await transport.send('payment', {
    id: envelope.id,
    type: envelope.type,
    body: jsonCodec().encode(envelope),
    headers: { 'x-evil': EVIL.header },
  });
  await Promise.all([placed, unknown]);
  for (const j of journals) await j.flush();

  dashboard = await startDashboard({ transport, journal: store });
  // A forged announcement of the right shape (a real bus refuses such a service name).
  const forged = createEnvelope({
    type: ANNOUNCED,
    source: '/missive/evil',
    data: {
      service: EVIL.service,
      instance: 'i-1',
      host: EVIL.header,
      pid: 1,
      version: EVIL.version,
      state: 'started',
      intervalMs: 600_000,
      at: Date.now(),
      startedAt: Date.now(),
      endpoints: [{ name: EVIL.service, topics: [], handles: [] }],
      sends: [],
      health: { ready: false, reasons: [EVIL.reason] },
    },
  });
  await transport.publish(ANNOUNCED, { id: forged.id, type: ANNOUNCED, body: jsonCodec().encode(forged), headers: {} });

  await dashboard.catalog.until((c) => c.instances().some((i) => i.service === EVIL.service));
  context = await launchChromium(join(root, 'chromium-profile'));
  page = await context.newPage();
  // A string, as the page's code runs in the browser (these tests compile without the DOM's types).
  await page.addInitScript(
    "window.__blocked = []; document.addEventListener('securitypolicyviolation', (e) => window.__blocked.push(e.violatedDirective + ' ' + e.sample));",
  );
  page.on('dialog', (dialog) => void dialog.dismiss());
}, 60_000);

afterAll(async () => {
  await context?.close();
  await dashboard?.close();
  await gateway?.stop();
  await payment?.stop();
  await transport?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

requireChromiumInCi();

describe.skipIf(!hasChromium)('the dashboard shows hostile message content as text (Chromium)', () => {
  it('services: a hostile service name, version, host and health reason are text', async () => {
    await page.goto(dashboard.url);
    const row = page.locator('#instances tr').filter({ hasText: EVIL.service });
    await row.getByText(EVIL.version, { exact: true }).waitFor();
    await row.getByText(`not ready: ${EVIL.reason}`, { exact: true }).waitFor();
    await row.getByText(`${EVIL.header} (pid 1)`, { exact: true }).waitFor();
    expect(await record()).toEqual({ pwned: undefined, blocked: [] });
  });

  it('dead letters: a hostile type, error text, header and payload are text, in the list and the detail', async () => {
    await tab('dead-letters');
    await page.locator('#dead-letters code').getByText(EVIL.type, { exact: true }).waitFor();
    await page.locator('#dead-letters td').getByText(`UnrecoverableError: ${EVIL.error}`).waitFor();
    await page.locator('#dead-letters tr').filter({ hasText: EVIL.type }).click();
    const detail = page.locator('#dead-letter-detail pre');
    await detail.getByText(JSON.stringify(EVIL.header)).waitFor();
    await page.locator('#dead-letters tr').filter({ hasText: 'shop.order-placed' }).click();
    await detail.getByText(JSON.stringify(EVIL.note)).waitFor();
    expect(await record()).toEqual({ pwned: undefined, blocked: [] });
  });

  it('conversations: the diagram is drawn, with the hostile error text (and its control character) as text', async () => {
    await tab('conversations');
    await page.fill('#conversation-query', 'o-evil');
    await page.click('#conversation-search');
    const arrow = page.locator('#diagram svg g.arrow.outcome-dead-lettered[data-type="shop.order-placed"]');
    await arrow.waitFor();
    const lifelines = await page.locator('#diagram svg g.lifeline').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-service')));
    expect(lifelines).toEqual(['gateway', 'payment']);
    // The control character, which XML cannot hold, shows as U+FFFD; the markup as text.
    expect(await arrow.locator('title').textContent()).toContain(EVIL.error.replace('\u0001', '\uFFFD'));
    expect(await page.locator('#diagram parsererror').count()).toBe(0);
    expect(await record()).toEqual({ pwned: undefined, blocked: [] });
  });

  it('live tail: a hostile payload is text', async () => {
    await tab('tail');
    await page.fill('#tail-pattern', 'shop.#');
    await page.click('#tail-start');
    await page.locator('#tail-state').getByText('tailing shop.#').waitFor();
    await gateway.publish(Placed, { orderId: 'o-tail', note: EVIL.note, link: EVIL.link });
    await page
      .locator('.tail-line')
      .filter({ hasText: 'o-tail' })
      .filter({ hasText: JSON.stringify(EVIL.note) })
      .waitFor();
    expect(await record()).toEqual({ pwned: undefined, blocked: [] });
  });
});
