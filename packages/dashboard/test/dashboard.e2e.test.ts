/**
 * The dashboard in real Chromium (Debian's /usr/bin/chromium, driven by playwright-core): shop-like
 * services on a SQLite bus, one order declined (compensations) and one dead-lettered; the test
 * opens the dashboard with its printed URL, sees the services, finds an order's conversation and
 * its diagram, copies it as Mermaid, replays the dead letter and sees it handled in the diagram,
 * and tails live messages. Every step waits for an element or a bus event, never for time.
 *
 * Screenshots go to DASHBOARD_SCREENSHOTS (docs/ when refreshing the documentation's images), or a
 * temporary folder.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { hasChromium, launchChromium, requireChromiumInCi } from './browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTransport, parseTransportUrl } from '@missive/core/transport';
import { silentLogger, systemClock, type Bus, type Transport } from '@missive/core';
import { SqliteJournalStore } from '../src/journal/sqlite-journal-store.js';
import { startDashboard, type Dashboard } from '../src/server/dashboard-server.js';
import { ChargePayment, OrderPlaced, startShopLike, type ShopLike } from './shop-like.js';

const root = mkdtempSync(join(tmpdir(), 'missive-dashboard-e2e-'));
const shots = process.env.DASHBOARD_SCREENSHOTS ?? join(root, 'screenshots');
const url = `sqlite://${join(root, 'bus.db')}`;

let store: SqliteJournalStore;
let shop: ShopLike;
let transport: Transport;
let dashboard: Dashboard;
let context: BrowserContext;
let page: Page;
let deadLetterId = '';

function when(bus: Bus, predicate: (type: string, outcome: string, data: unknown) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const off = bus.on('handled', (e) => {
      if (!predicate(e.type, e.outcome, e.envelope?.data)) return;
      off();
      resolve(e.messageId);
    });
  });
}
const orderOf = (data: unknown) => (data as { orderId?: string } | undefined)?.orderId;
const flush = async () => {
  for (const j of shop.journals) await j.flush();
};
const tab = (view: string) => page.click(`#tabs button[data-view="${view}"]`);

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  store = new SqliteJournalStore({ path: join(root, 'journal.db') });
  shop = await startShopLike(url, store);
  const [, inventory, payment, analytics, gateway] = shop.buses as [Bus, Bus, Bus, Bus, Bus];
  shop.declined.add('o-2');
  shop.down.add('o-3');
  const done = [
    when(analytics, (type, _, data) => type === 'shop.order-confirmed' && orderOf(data) === 'o-1'),
    when(analytics, (type, _, data) => type === 'shop.order-cancelled' && orderOf(data) === 'o-2'),
    when(payment, (type, outcome, data) => type === ChargePayment.name && outcome === 'dead-lettered' && orderOf(data) === 'o-3'),
    when(inventory, (type, _, data) => type === 'inventory.release-stock' && orderOf(data) === 'o-2'),
  ];
  for (const id of ['o-1', 'o-2', 'o-3']) await gateway.publish(OrderPlaced, { orderId: id, sku: 'sku-7', amount: 30 });
  deadLetterId = (await Promise.all(done))[2]!;
  await flush();
  transport = await loadTransport(parseTransportUrl(url), { clock: systemClock, logger: silentLogger });
  await transport.connect();
  dashboard = await startDashboard({ transport, journal: store, traceUrl: 'http://127.0.0.1:16686/trace/{traceId}' });
  context = await launchChromium(join(root, 'chromium-profile'));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: dashboard.url.slice(0, dashboard.url.indexOf('/#')) });
  page = await context.newPage();
}, 60_000);

afterAll(async () => {
  await context?.close();
  await dashboard?.close();
  await shop?.stop();
  await transport?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

requireChromiumInCi();

describe.skipIf(!hasChromium)('the dashboard in Chromium (skipped without /usr/bin/chromium; .ci/run installs it)', () => {
  it('shows the live services, their health and their contracts', async () => {
    await page.goto(dashboard.url);
    await page.locator('#instances tr[data-service="payment"] td.live').waitFor();
    await page.locator('#instances tr[data-service="payment"] td[data-health="ready"]').waitFor();
    expect(page.url()).not.toContain('token='); // taken out of the address bar
    for (const service of ['analytics', 'gateway', 'inventory', 'order', 'payment'])
      await page.locator(`#instances tr[data-service="${service}"]`).waitFor();
    await page.locator('#contracts tr[data-contract="payment.charge-payment"]').getByText('payment/payment').waitFor();
    await page.screenshot({ path: join(shots, 'dashboard-services.png'), fullPage: true });
    await tab('queues');
    await page.locator('#queues tr[data-queue="payment"] td.bad').getByText('1').waitFor();
    await page.screenshot({ path: join(shots, 'dashboard-queues.png') });
  });

  it("finds an order's conversation by its order id and draws it, compensations marked; copies it as Mermaid", async () => {
    // A link to one order's conversation, as `npm start -- --dashboard` prints it.
    const [base, token] = dashboard.url.split('/#token=') as [string, string];
    await page.goto(`${base}/#conversations?q=o-2&token=${token}`);
    await page.locator('#diagram svg g.arrow.compensation[data-type="inventory.release-stock"]').waitFor();
    expect(new URL(page.url()).hash).toBe('#conversations?q=o-2');
    expect(await page.inputValue('#conversation-query')).toBe('o-2');
    const types = await page.locator('#diagram svg g.arrow').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-type')));
    expect(types).toEqual([
      'shop.order-placed',
      'inventory.reserve-stock',
      'inventory.stock-reserved',
      'payment.charge-payment',
      'payment.payment-declined',
      'inventory.release-stock',
      'shop.order-cancelled',
    ]);
    const lifelines = await page.locator('#diagram svg g.lifeline').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-service')));
    expect(lifelines).toEqual(['gateway', 'order', 'inventory', 'payment', 'analytics']);
    await page.screenshot({ path: join(shots, 'dashboard-conversation.png'), fullPage: true });
    await page.click('#copy-mermaid');
    await page.locator('#copied').getByText('copied', { exact: true }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toMatch(/^sequenceDiagram\n {2}participant s0 as gateway\n/);
  });

  it('replays a dead letter from the dashboard and sees it handled in the conversation', async () => {
    await tab('dead-letters');
    const row = page.locator(`#dead-letters tr[data-id="${deadLetterId}"]`);
    await row.getByText('UNRECOVERABLE', { exact: true }).waitFor();
    await row.click();
    await page.locator('#dead-letter-detail pre').getByText('card gateway refused order o-3').waitFor();
    await page.screenshot({ path: join(shots, 'dashboard-dead-letters.png'), fullPage: true });
    shop.down.delete('o-3');
    const payment = shop.buses[2]!;
    const charged = when(payment, (type, outcome, data) => type === ChargePayment.name && outcome === 'handled' && orderOf(data) === 'o-3');
    await page.click('#replay-one');
    await page.locator('.message.info').getByText('replayed 1 message(s) to payment').waitFor();
    await page.locator('#no-dead-letters').waitFor();
    await charged;
    await flush();
    await tab('conversations');
    await page.fill('#conversation-query', 'o-3');
    await page.click('#conversation-search');
    await page.locator('#diagram svg g.arrow.outcome-handled[data-type="payment.charge-payment"]').waitFor();
    await page.locator('#diagram svg g.arrow.outcome-dead-lettered[data-type="payment.charge-payment"]').waitFor();
    await page.locator('#diagram svg').getByText('replayed').waitFor();
    await page.screenshot({ path: join(shots, 'dashboard-replayed.png'), fullPage: true });
  });

  it('tails live messages of a type pattern', async () => {
    await tab('tail');
    await page.fill('#tail-pattern', 'shop.#');
    await page.click('#tail-start');
    await page.locator('#tail-state').getByText('tailing shop.#').waitFor();
    await shop.buses[4]!.publish(OrderPlaced, { orderId: 'o-tail', sku: 'sku-1', amount: 1 });
    await page.locator('.tail-line').filter({ hasText: 'shop.order-placed' }).filter({ hasText: 'o-tail' }).waitFor();
  });
});
