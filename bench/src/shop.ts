/**
 * The shop benchmark: the example shop (six services, each its own process, the order saga with its
 * outbox) at a series of order rates on each transport, side by side in one run. For each transport
 * and rate it reports the completion latency p50/p99 (order placed → confirmed or cancelled),
 * whether the shop saturated (the orders in flight kept growing while orders were placed), and the
 * orders completed per second; then, per transport, the highest rate it kept up with.
 *
 *   npm run build && node bench/dist/shop.js                      # sqlite and rabbitmq, 25/50/100 orders/s
 *   node bench/dist/shop.js --transports sqlite,rabbitmq,postgres,nats,redis --rates 50,100 --orders 300
 *
 * Transports: `sqlite` (the shop's default), `rabbitmq`, `postgres`, `nats`, `redis` on the local
 * brokers (override with `MISSIVE_<NAME>_URL`), or any transport URL. Needs `npm run build`.
 *
 * @example
 * ```sh
 * node bench/dist/shop.js --transports sqlite,rabbitmq --rates 50
 * ```
 * @module
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { redactUrl } from '@missive/core';

/** The local brokers' URLs (the ones the tests use). */
const KNOWN: Readonly<Record<string, string | undefined>> = {
  sqlite: undefined, // the shop's own default: a SQLite file per run
  rabbitmq: process.env.MISSIVE_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  postgres: process.env.MISSIVE_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  nats: process.env.MISSIVE_NATS_URL ?? 'nats://127.0.0.1:4222',
  redis: process.env.MISSIVE_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

const SHOP = fileURLToPath(new URL('../../examples/shop/dist/main.js', import.meta.url));

/** What the shop's `--json` report gives (the fields used here). */
interface ShopReport {
  readonly ok: boolean;
  readonly orders: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number };
  readonly saturation: { readonly saturated: boolean; readonly from: number; readonly to: number };
  readonly elapsedS: number;
}

interface Row {
  readonly transport: string;
  readonly rate: number;
  readonly report: ShopReport | undefined;
  readonly error?: string;
}

/** Runs the shop once; resolves with its report, or undefined and the reason. */
function runShop(url: string | undefined, orders: number, rate: number): Promise<{ report?: ShopReport; error?: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    if (url === undefined) delete env.MISSIVE_URL;
    else env.MISSIVE_URL = url;
    const child = spawn(process.execPath, [SHOP, '--orders', String(orders), '--rate', String(rate), '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('exit', () => {
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve({ report: JSON.parse(line) as ShopReport });
      } catch {
        resolve({ error: (err.trim().split('\n').at(-1) ?? '') || `no report (${out.length} bytes of output)` });
      }
    });
  });
}

function list(value: string | undefined, fallback: string): string[] {
  return (value ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      transports: { type: 'string' },
      rates: { type: 'string' },
      orders: { type: 'string', default: '200' },
    },
  });
  const transports = list(values.transports, 'sqlite,rabbitmq');
  const rates = list(values.rates, '25,50,100').map(Number);
  const orders = Number(values.orders);
  if (!rates.every((r) => Number.isFinite(r) && r > 0) || !(orders > 0)) {
    console.error(
      'usage: node bench/dist/shop.js [--transports sqlite,rabbitmq,postgres,nats,redis|<url>,…] [--rates 25,50,100] [--orders 200]',
    );
    process.exit(2);
  }
  const rows: Row[] = [];
  // Rate by rate, every transport in turn: each rate's figures are taken at about the same moment.
  for (const rate of rates) {
    for (const transport of transports) {
      const url = transport in KNOWN ? KNOWN[transport] : transport;
      const name = transport in KNOWN ? transport : redactUrl(transport);
      process.stderr.write(`shop on ${name} at ${rate} orders/s …\n`);
      const { report, error } = await runShop(url, orders, rate);
      rows.push({ transport: name, rate, report, error });
    }
  }
  const lines = [
    `Shop benchmark: ${orders} orders per run; \`node bench/dist/shop.js --transports ${transports.join(',')} --rates ${rates.join(',')} --orders ${orders}\``,
    '',
    '| transport | rate (orders/s) | completion p50 | p99 | completed orders/s | saturated | check |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    ...rows.map(({ transport, rate, report, error }) =>
      report === undefined
        ? `| ${transport} | ${rate} | – | – | – | – | failed: ${error ?? 'unknown'} |`
        : `| ${transport} | ${rate} | ${report.latencyMs.p50} ms | ${report.latencyMs.p99} ms | ${(report.orders / report.elapsedS).toFixed(1)} | ${report.saturation.saturated ? `yes (in flight ${report.saturation.from} → ${report.saturation.to})` : 'no'} | ${report.ok ? 'OK' : 'FAILED'} |`,
    ),
    '',
    '| transport | highest rate it kept up with | completed orders/s at the first rate it saturated |',
    '| --- | ---: | ---: |',
    ...transports.map((transport) => {
      const name = transport in KNOWN ? transport : redactUrl(transport);
      const mine = rows.filter((r) => r.transport === name && r.report !== undefined);
      const kept = mine.filter((r) => !r.report!.saturation.saturated).map((r) => r.rate);
      const first = mine.find((r) => r.report!.saturation.saturated);
      return `| ${name} | ${kept.length === 0 ? 'none measured' : Math.max(...kept)} | ${first === undefined ? 'did not saturate' : (first.report!.orders / first.report!.elapsedS).toFixed(1)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
