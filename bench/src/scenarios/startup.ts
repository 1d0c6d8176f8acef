/**
 * startup: how long from a process's start until an endpoint consumes, and until it handled its
 * first message, on the memory, SQLite and RabbitMQ transports; and the shop from its command to
 * its first order handled. Every run is a fresh `node` process (nothing cached in it).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AMQP_URL } from '../harness/machine.js';
import type { Scenario } from '../harness/scenario.js';
import { runId } from '../harness/time.js';
import { DB_DIR, removeDb } from './sqlite.js';

const CONSUMER = fileURLToPath(new URL('../startup/consumer.js', import.meta.url));
const SHOP = fileURLToPath(new URL('../../../examples/shop/dist/main.js', import.meta.url));

interface Marks {
  readonly begun: number;
  readonly imported: number;
  readonly consuming: number;
  readonly firstHandled: number;
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<{ stdout: string; wallMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file, ...args], { timeout: timeoutMs, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${file} failed: ${error.message}\n${stderr.slice(0, 2000)}`));
      else resolve({ stdout, wallMs: performance.now() - started });
    });
  });
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const ms = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(0));

export const startup: Scenario = {
  name: 'startup',
  title: 'startup: process start to a consuming endpoint, and the shop to its first order',
  budgetMs: 240_000,
  facts: { rabbitmq: true, sqlite: true, packages: ['zod'] },
  async run(ctx) {
    const rounds = ctx.rounds ?? (ctx.quick ? 2 : 5);
    mkdirSync(DB_DIR, { recursive: true });
    const sqlitePath = `${DB_DIR}startup-${runId()}.db`;
    const transports = [
      { label: 'memory', url: 'memory://' },
      { label: 'SQLite', url: `sqlite://${sqlitePath}` },
      { label: 'RabbitMQ', url: AMQP_URL },
    ];
    const lines: string[] = [];
    try {
      lines.push(
        `Medians of ${rounds} fresh processes per transport (\`node bench/dist/startup/consumer.js <url>\`), milliseconds since the process started (\`performance.now()\`); "spawn → exit" is the parent's clock, from spawning the process to its exit after a clean stop.`,
        '',
        '| transport | Node ready | imports done (@missive/core, zod) | endpoint consuming | first message handled | spawn → exit |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
      );
      for (const t of transports) {
        const marks: Marks[] = [];
        const walls: number[] = [];
        for (let i = 0; i < rounds && Date.now() < ctx.deadline - 60_000; i++) {
          try {
            const { stdout, wallMs } = await run(CONSUMER, [t.url], 30_000);
            marks.push(JSON.parse(stdout.trim().split('\n').pop()!) as Marks);
            walls.push(wallMs);
          } catch (error) {
            ctx.log(`  ${t.label}: ${(error as Error).message.split('\n')[0]}`);
          }
        }
        ctx.log(`  ${t.label}: consuming after ${ms(median(marks.map((m) => m.consuming)))} ms (median of ${marks.length})`);
        const col = (pick: (m: Marks) => number) => ms(median(marks.map(pick)));
        lines.push(
          `| ${t.label} | ${col((m) => m.begun)} | ${col((m) => m.imported)} | ${col((m) => m.consuming)} | ${col((m) => m.firstHandled)} | ${ms(median(walls))} |`,
        );
      }
      const shopRounds = ctx.quick ? 1 : 3;
      const shop: { wallMs: number; latencyMs: number }[] = [];
      for (let i = 0; i < shopRounds && Date.now() < ctx.deadline - 30_000; i++) {
        try {
          const { stdout, wallMs } = await run(
            SHOP,
            ['--orders', '1', '--rate', '1', '--decline-rate', '0', '--fail-rate', '0', '--slow-ms', '0', '--json'],
            120_000,
          );
          const report = JSON.parse(stdout.trim().split('\n').pop()!) as { latencyMs: { p50: number }; ok: boolean };
          if (!report.ok) throw new Error('the shop reported a problem');
          shop.push({ wallMs, latencyMs: report.latencyMs.p50 });
        } catch (error) {
          ctx.log(`  shop: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      ctx.log(`  shop: ${shop.length} runs, median ${ms(median(shop.map((s) => s.wallMs)))} ms`);
      lines.push(
        '',
        `The shop (\`node examples/shop/dist/main.js --orders 1 --rate 1 --decline-rate 0 --fail-rate 0 --slow-ms 0 --json\`: what \`npm start\` runs after its build), on SQLite, medians of ${shop.length}: the whole run, from the command to its exit (its services launched and ready, one order placed through the gateway and completed, checked, everything stopped), and that order's own completion time, placed → confirmed.`,
        '',
        '| run | command → exit, ms | order placed → confirmed, ms |',
        '| --- | ---: | ---: |',
        `| one order | ${ms(median(shop.map((s) => s.wallMs)))} | ${ms(median(shop.map((s) => s.latencyMs)))} |`,
      );
      return lines.join('\n');
    } finally {
      removeDb(sqlitePath);
    }
  },
};
