/**
 * journal-lookup: how fast the dashboard finds a conversation in a big journal. 100,000
 * conversations of 10 messages (an order id in each payload) appended to a SQLite journal (a
 * million rows), then conversations found by business key, message id and correlation id through
 * the dashboard's HTTP API (the query, the diagram as SVG and Mermaid, JSON), p50/p99/max over
 * random picks. The target: a conversation renders in under a second with a million rows.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBroker, type Transport } from '@missive/core';
import { openJournalStore, SqliteJournalStore, startDashboard, type JournalEntry } from '@missive/dashboard';
import type { Scenario } from '../harness/scenario.js';
import { latencySummary } from '../harness/stats.js';

function entry(conversation: number, step: number, seq: number): JournalEntry {
  const at = 1_700_000_000_000 + conversation * 50 + step;
  return {
    seq: 0,
    at,
    sentAt: at - 1,
    messageId: `m-${conversation}-${step}`,
    type: `shop.step-${step}`,
    kind: 'event',
    source: `service-${step % 5}`,
    service: `service-${(step + 1) % 5}`,
    endpoint: `service-${(step + 1) % 5}`,
    instance: 'i-1',
    correlationId: `c-${conversation}`,
    causationId: step === 0 ? undefined : `m-${conversation}-${step - 1}`,
    conversationId: `c-${conversation}`,
    traceId: undefined,
    attempt: 1,
    outcome: seq % 97 === 0 ? 'retried' : 'handled',
    durationMs: 1.5,
    reason: undefined,
    error: undefined,
    replayed: false,
    payload: `{"orderId":"order-${conversation}","step":${step}}`,
    keys: [`order-${conversation}`],
  };
}

export const journalLookup: Scenario = {
  name: 'journal-lookup',
  title: 'journal-lookup: a conversation found among a million journal rows',
  budgetMs: 300_000,
  facts: { packages: ['better-sqlite3'] },
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'missive-bench-journal-lookup-'));
    try {
      ctx.log('  a million rows');
      const store = new SqliteJournalStore({ path: join(dir, 'million.db') });
      const conversations = ctx.quick ? 20_000 : 100_000;
      const insertStarted = performance.now();
      let seq = 0;
      for (let c = 0; c < conversations; c += 1000) {
        const batch: JournalEntry[] = [];
        for (let k = c; k < c + 1000; k++) for (let s = 0; s < 10; s++) batch.push(entry(k, s, seq++));
        await store.append(batch);
      }
      const insertRate = seq / ((performance.now() - insertStarted) / 1000);
      const transport: Transport = new MemoryBroker().transport();
      await transport.connect();
      const reader = await openJournalStore(`sqlite://${join(dir, 'million.db')}`); // as \`missive dashboard\` opens it
      const dashboard = await startDashboard({ transport, journal: reader });
      const base = dashboard.url.slice(0, dashboard.url.indexOf('/#'));
      const lookups: Record<string, number[]> = { 'business key (order id)': [], 'message id': [], 'correlation id': [] };
      const pick = () => Math.floor(Math.random() * conversations);
      for (let i = 0; i < 200; i++) {
        const c = pick();
        const queries: [string, string][] = [
          ['business key (order id)', `order-${c}`],
          ['message id', `m-${c}-${i % 10}`],
          ['correlation id', `c-${c}`],
        ];
        for (const [kind, q] of queries) {
          const t = performance.now();
          const res = await fetch(`${base}/api/conversations?q=${encodeURIComponent(q)}`, {
            headers: { authorization: `Bearer ${dashboard.token}` },
          });
          const body = (await res.json()) as { entries: unknown[] };
          if (body.entries.length !== 10) throw new Error(`${kind} ${q}: ${body.entries.length} rows, expected 10`);
          lookups[kind]!.push((performance.now() - t) * 1000);
        }
      }
      await dashboard.close();
      await reader.close();
      await transport.close();
      const rows = await store.count();
      await store.close();
      const lines = [
        `A million rows: ${rows.toLocaleString('en-US')} rows (${conversations.toLocaleString('en-US')} conversations of 10 messages, an order id in each payload) appended in batches of 10,000 at ${Math.round(insertRate).toLocaleString('en-US')} rows/s. Then through the dashboard's HTTP API (query, diagram as SVG and Mermaid, JSON), 200 random picks each:`,
        '',
        '| lookup by | p50 | p99 | max |',
        '| --- | ---: | ---: | ---: |',
        ...Object.entries(lookups).map(([kind, us]) => {
          const s = latencySummary(us);
          return `| ${kind} | ${(s.p50 / 1000).toFixed(1)} ms | ${(s.p99 / 1000).toFixed(1)} ms | ${(s.max / 1000).toFixed(1)} ms |`;
        }),
      ];
      return lines.join('\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
