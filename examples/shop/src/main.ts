/**
 * `npm start`: runs the shop, each service its own process, on the embedded SQLite transport (or on
 * `MISSIVE_URL`), places a stream of orders through the gateway's HTTP API, shows live progress,
 * and ends with a summary and a check that no order was lost, stuck or charged twice.
 *
 *   npm start -- --orders 300 --rate 60 --decline-rate 0.1 --fail-rate 0.2 --slow-ms 20
 *   MISSIVE_URL=amqp://guest:guest@127.0.0.1:5672 npm start
 *   npm start -- --dashboard      # then keeps the services up with the dashboard open on them
 *
 * Leaves nothing running when it ends or on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { monitor } from './monitor.js';
import { launch, type Launched } from './launcher.js';
import { verify } from './verify.js';
import { openDashboard } from './dashboard.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    'decline-rate': { type: 'string', default: '0.1' },
    'fail-rate': { type: 'string', default: '0.2' },
    'slow-ms': { type: 'string', default: '20' },
    stock: { type: 'string', default: '1000' },
    'payment-instances': { type: 'string', default: '2' },
    'kill-payment-at': { type: 'string' },
    'timeout-s': { type: 'string', default: '120' },
    otlp: { type: 'string' },
    dashboard: { type: 'boolean', default: false },
    'dashboard-port': { type: 'string', default: '0' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm start -- [--orders N] [--rate N/s] [--decline-rate 0..1] [--fail-rate 0..1] [--slow-ms N]
       [--stock N] [--payment-instances N] [--kill-payment-at N] [--timeout-s N] [--otlp URL] [--json] [--verbose]
       [--dashboard [--dashboard-port N]]
  MISSIVE_URL chooses the transport (default: sqlite in .missive/shop/<run>/bus.db).
  --otlp http://127.0.0.1:4318 exports every service's traces and metrics to an OTLP/HTTP collector.
  --dashboard keeps the services up after the run and opens the dashboard on them (Ctrl-C ends both).\n`);
  process.exit(0);
}

function number(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

const options = {
  orders: number('orders', values.orders, 1, 100_000),
  rate: number('rate', values.rate, 1, 10_000),
  declineRate: number('decline-rate', values['decline-rate'], 0, 1),
  failRate: number('fail-rate', values['fail-rate'], 0, 0.9),
  slowMs: number('slow-ms', values['slow-ms'], 0, 10_000),
  stock: number('stock', values.stock, 0, 1e9),
  paymentInstances: number('payment-instances', values['payment-instances'], 1, 8),
  killPaymentAt: values['kill-payment-at'] === undefined ? undefined : number('kill-payment-at', values['kill-payment-at'], 1, 100_000),
  timeoutS: number('timeout-s', values['timeout-s'], 5, 3600),
  dashboardPort: number('dashboard-port', values['dashboard-port'], 0, 65535),
  json: values.json,
  verbose: values.verbose,
};

if (values.otlp !== undefined) {
  if (!/^https?:\/\/[^\s]+$/.test(values.otlp)) {
    process.stderr.write(`--otlp must be an OTLP/HTTP collector URL such as http://127.0.0.1:4318, got ${JSON.stringify(values.otlp)}\n`);
    process.exit(2);
  }
  process.env.SHOP_OTLP_URL = values.otlp; // the services read it (the launcher passes the environment on)
}

let launched: Launched | undefined;
let closeDashboard: (() => Promise<void>) | undefined;
let ending = false;
const end = async (code: number) => {
  if (ending) return;
  ending = true;
  await closeDashboard?.();
  await launched?.shutdown();
  process.exit(code);
};
// With the dashboard open, Ctrl-C is how the user ends a run that went well: exit 0.
process.on('SIGINT', () => void end(closeDashboard === undefined ? 130 : 0));
process.on('SIGTERM', () => void end(closeDashboard === undefined ? 143 : 0));

try {
  launched = await launch(options);
  const outcome = await monitor(launched, options);
  const report = await verify(launched, outcome, options);
  if (values.dashboard) {
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : report.text);
    const dashboard = await openDashboard(launched, options.dashboardPort);
    closeDashboard = () => dashboard.close();
    const [base, token] = dashboard.url.split('/#token=') as [string, string];
    const lines = [`\ndashboard: ${dashboard.url}`];
    for (const status of ['confirmed', 'cancelled']) {
      const id = [...outcome.final].find(([, f]) => f.status === status)?.[0];
      if (id !== undefined) lines.push(`  a ${status} order's conversation: ${base}/#conversations?q=${id}&token=${token}`);
    }
    lines.push("the shop's services keep running; Ctrl-C stops them and the dashboard\n");
    process.stdout.write(lines.join('\n'));
  } else {
    await launched.shutdown();
    launched = undefined;
    process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : report.text);
    await end(report.ok ? 0 : 1);
  }
} catch (error) {
  process.stderr.write(`shop failed: ${(error as Error).stack ?? String(error)}\n`);
  await end(1);
}
