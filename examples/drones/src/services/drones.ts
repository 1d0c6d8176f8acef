/**
 * The simulated fleet: `DRONES_FLEET_SIZE` drones, each its own MQTT client (as real devices
 * are), publishing telemetry (position, battery, state) `DRONES_HZ` times a second with QoS 1 to
 * `<prefix>/<droneId>/telemetry`, and delivery steps to `<prefix>/<droneId>/events`. A drone takes
 * dispatch commands on `<prefix>/<droneId>/commands`: flies to the pickup, picks up, flies to the
 * destination, delivers; the battery drains with each flight and the drone charges when low.
 *
 * Faults, for the demo and the tests: the first `DRONES_LOSE` drones to pick up a parcel go silent
 * right after (their connection dropped, as a crashed drone's would), and `DRONES_MALFORMED`
 * malformed telemetry messages are sent at the start.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { envNumber, settings } from '../runtime.js';

const config = settings();
const size = envNumber('DRONES_FLEET_SIZE', 40);
const hz = envNumber('DRONES_HZ', 2);
const pickupMs = envNumber('DRONES_PICKUP_MS', 1500);
const flightMs = envNumber('DRONES_FLIGHT_MS', 2500);
const drainPerFlight = envNumber('DRONES_DRAIN', 22);
let toLose = envNumber('DRONES_LOSE', 0);
const malformed = envNumber('DRONES_MALFORMED', 0);

type State = 'idle' | 'to-pickup' | 'en-route' | 'charging';
interface Dispatch {
  readonly kind: 'dispatch';
  readonly deliveryId: string;
  readonly to: { lat: number; lon: number };
}

class SimDrone {
  seq = 0;
  state: State = 'idle';
  deliveryId: string | null = null;
  lat = 52.37 + Math.random() * 0.05;
  lon = 4.89 + Math.random() * 0.05;
  silent = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    readonly client: MqttClient,
    public battery: number,
  ) {}

  private topic(kind: string) {
    return `${config.topicPrefix}/${this.id}/${kind}`;
  }

  start() {
    const period = 1000 / hz;
    const first = setTimeout(() => {
      this.ticker = setInterval(() => this.tick(period), period);
      this.tick(period);
    }, Math.random() * period);
    this.timers.add(first);
    void this.client.subscribeAsync(this.topic('commands'), { qos: 1 });
    this.client.on('message', (_topic, payload) => {
      try {
        this.command(JSON.parse(payload.toString()) as Dispatch);
      } catch {
        /* a bad command is ignored by the drone, as firmware would */
      }
    });
  }

  private later(ms: number, work: () => void) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.silent) work();
    }, ms);
    this.timers.add(t);
  }

  private tick(periodMs: number) {
    if (this.silent) return;
    if (this.state === 'charging') {
      this.battery = Math.min(100, this.battery + (periodMs / 1000) * 25);
      if (this.battery >= 100) this.state = 'idle';
    }
    if (this.state === 'to-pickup' || this.state === 'en-route') {
      this.lat += (Math.random() - 0.5) * 0.001;
      this.lon += (Math.random() - 0.5) * 0.001;
    }
    const body = {
      seq: this.seq++,
      battery: Math.round(this.battery * 10) / 10,
      state: this.state,
      lat: this.lat,
      lon: this.lon,
      deliveryId: this.deliveryId,
      at: Date.now(),
    };
    this.client.publish(this.topic('telemetry'), JSON.stringify(body), { qos: 1 });
  }

  private report(kind: 'picked-up' | 'en-route' | 'delivered' | 'failed', deliveryId: string, reason?: string) {
    const body = { id: `${this.id}-${deliveryId}-${kind}`, deliveryId, kind, reason, at: Date.now() };
    this.client.publish(this.topic('events'), JSON.stringify(body), { qos: 1 });
  }

  private command(c: Dispatch) {
    if (c.kind !== 'dispatch' || this.silent) return;
    if (this.deliveryId === c.deliveryId) return; // a repeated command
    if (this.state !== 'idle') return this.report('failed', c.deliveryId, `busy (${this.state})`);
    this.state = 'to-pickup';
    this.deliveryId = c.deliveryId;
    this.later(pickupMs, () => {
      this.report('picked-up', c.deliveryId);
      if (toLose > 0) {
        toLose--;
        this.silent = true;
        process.stdout.write(`drone ${this.id} goes silent carrying ${c.deliveryId}\n`);
        void this.client.endAsync(true);
        return;
      }
      this.state = 'en-route';
      this.report('en-route', c.deliveryId);
      this.later(flightMs, () => {
        this.battery = Math.max(0, this.battery - drainPerFlight);
        this.report('delivered', c.deliveryId);
        this.deliveryId = null;
        this.state = this.battery < 50 ? 'charging' : 'idle';
      });
    });
  }

  async stop() {
    clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    if (!this.silent) await this.client.endAsync();
  }
}

const fleet: SimDrone[] = [];
const ids = Array.from({ length: size }, (_, i) => `d-${String(i + 1).padStart(3, '0')}`);
for (let i = 0; i < ids.length; i += 20) {
  const batch = ids.slice(i, i + 20);
  const clients = await Promise.all(
    batch.map((id) =>
      connectAsync(config.mqttUrl, {
        protocolVersion: 5,
        clientId: `${config.topicPrefix.replace(/\//g, '-')}-${id}`,
        reconnectPeriod: 500,
      }),
    ),
  );
  clients.forEach((client, j) => fleet.push(new SimDrone(batch[j]!, client, 60 + Math.random() * 40)));
}
for (const d of fleet) d.start();
const first = fleet[0];
for (let i = 0; i < malformed && first !== undefined; i++) {
  await first.client.publishAsync(
    `${config.topicPrefix}/${first.id}/telemetry`,
    i % 2 === 0 ? '{"seq": 1, "battery": ' : JSON.stringify({ seq: -1, battery: 'full' }),
    { qos: 1 },
  );
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(fleet.map((d) => d.stop()));
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdout.write(`ready drones size=${size}\n`);
