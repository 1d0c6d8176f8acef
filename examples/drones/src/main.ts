/**
 * `npm run drones`: runs the drone delivery system, each service its own process, on the embedded
 * SQLite transport (or `MISSIVE_URL`) with telemetry over the local Mosquitto (or
 * `DRONES_MQTT_URL`); requests deliveries through the scheduler's HTTP API, shows a live view, and
 * ends with a check line: `check: OK`, or what failed.
 *
 *   npm run drones -- --drones 200 --hz 2 --deliveries 30 --rate 3 --lose 2 --malformed 3
 *   npm run drones -- --kill-delivery-at 10      # SIGKILL the delivery service mid-run
 *
 * Leaves nothing running when it ends or on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { launch, type Launched } from './launcher.js';
import { monitor } from './monitor.js';
import { startOwnMosquitto, type OwnMosquitto } from './own-mosquitto.js';
import { verify } from './verify.js';

const { values } = parseArgs({
  options: {
    drones: { type: 'string', default: '200' },
    hz: { type: 'string', default: '2' },
    deliveries: { type: 'string', default: '30' },
    rate: { type: 'string', default: '3' },
    lose: { type: 'string', default: '2' },
    malformed: { type: 'string', default: '3' },
    'kill-delivery-at': { type: 'string' },
    'maintenance-after': { type: 'string', default: '5' },
    'own-mosquitto': { type: 'boolean', default: false },
    'restart-mqtt-at': { type: 'string' },
    'timeout-s': { type: 'string', default: '120' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm run drones -- [--drones N] [--hz N] [--deliveries N] [--rate N/s] [--lose N]
       [--malformed N] [--kill-delivery-at N] [--maintenance-after N]
       [--own-mosquitto [--restart-mqtt-at N]]
       [--timeout-s N] [--json]
  MISSIVE_URL chooses the transport (default: sqlite in .missive/drones/<run>/bus.db);
  DRONES_MQTT_URL the MQTT broker (default mqtt://127.0.0.1:1883); --own-mosquitto starts a
  private one for the run (needed to restart it with --restart-mqtt-at). A drone goes into
  maintenance after --maintenance-after deliveries (0: never) or a fault, for
  DRONES_MAINTENANCE_MS (default 3000), and is not assigned until it is done.\n`);
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
  drones: number('drones', values.drones, 1, 1000),
  hz: number('hz', values.hz, 0.2, 20),
  deliveries: number('deliveries', values.deliveries, 1, 10_000),
  rate: number('rate', values.rate, 0.1, 100),
  lose: number('lose', values.lose, 0, 100),
  malformed: number('malformed', values.malformed, 0, 100),
  maintenanceAfter: number('maintenance-after', values['maintenance-after'], 0, 10_000),
  killDeliveryAt: values['kill-delivery-at'] === undefined ? undefined : number('kill-delivery-at', values['kill-delivery-at'], 1, 10_000),
  restartMqttAt: values['restart-mqtt-at'] === undefined ? undefined : number('restart-mqtt-at', values['restart-mqtt-at'], 1, 10_000),
  timeoutS: number('timeout-s', values['timeout-s'], 10, 3600),
  json: values.json,
};
if (options.restartMqttAt !== undefined && !values['own-mosquitto']) {
  process.stderr.write('--restart-mqtt-at needs --own-mosquitto: the shared broker is never restarted\n');
  process.exit(2);
}

let launched: Launched | undefined;
let broker: OwnMosquitto | undefined;
let ending = false;
const end = async (code: number) => {
  if (ending) return;
  ending = true;
  await launched?.shutdown();
  await broker?.stop();
  process.exit(code);
};
process.on('SIGINT', () => void end(130));
process.on('SIGTERM', () => void end(143));

try {
  if (values['own-mosquitto']) broker = await startOwnMosquitto();
  const mqttUrl = broker?.url ?? process.env.DRONES_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
  launched = await launch({ ...options, mqttUrl });
  const outcome = await monitor(launched, { ...options, restartMqtt: broker === undefined ? undefined : () => broker!.restart() });
  const report = await verify(launched, outcome, options);
  await launched.shutdown();
  launched = undefined;
  process.stdout.write(options.json ? `${JSON.stringify({ ...report, text: undefined })}\n` : report.text);
  await end(report.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`drones failed: ${(error as Error).stack ?? String(error)}\ncheck: FAILED (${(error as Error).message})\n`);
  await end(1);
}
