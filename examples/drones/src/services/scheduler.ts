/**
 * The scheduler: accepts delivery requests over HTTP (`POST /deliveries {from, to}` → 202
 * `{deliveryId}`), publishes `DeliveryRequested`, and picks a drone whenever a delivery needs one:
 * it asks fleet management to reserve the best free drone and assigns it. No drone free yet is
 * retried with backoff (the bus's delayed redelivery) until one is, or the saga gives up.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { AssignDrone, DeliveryNeedsDrone, DeliveryRequested, ReserveDrone } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const bus = serviceBus('scheduler', config);

class NoDroneFree extends Error {
  override name = 'NoDroneFree';
}

bus.endpoint(
  'scheduler',
  (e) => {
    e.on(
      DeliveryNeedsDrone,
      async (m, ctx) => {
        const { droneId } = await ctx.request(ReserveDrone, { deliveryId: m.deliveryId, exclude: m.exclude }, { timeoutMs: 5000 });
        if (droneId === null) throw new NoDroneFree(`no drone free for ${m.deliveryId}`);
        await ctx.send(AssignDrone, { deliveryId: m.deliveryId, droneId });
      },
      { retry: { immediate: 0, delayed: { attempts: 200, initialMs: 300, factor: 1.3, maxMs: 2000 } } },
    );
  },
  { concurrency: 4 },
);

const Place = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { lat?: unknown }).lat === 'number' &&
  typeof (v as { lon?: unknown }).lon === 'number';

const server = createServer((req, res) => {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST' || req.url !== '/deliveries') return reply(404, { error: 'POST /deliveries' });
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (text += chunk));
  req.on('end', () => {
    let body: { from?: unknown; to?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return reply(400, { error: 'body is not JSON' });
    }
    if (!Place(body.from) || !Place(body.to)) return reply(400, { error: 'from and to must be { lat, lon }' });
    const deliveryId = `dl-${randomUUID().slice(0, 8)}`;
    bus
      .publish(DeliveryRequested, {
        deliveryId,
        from: body.from as { lat: number; lon: number },
        to: body.to as { lat: number; lon: number },
        requestedAt: Date.now(),
      })
      .then(
        () => reply(202, { deliveryId }),
        (error: unknown) => reply(503, { error: (error as Error).message }),
      );
  });
});

await new Promise<void>((resolve) => server.listen(Number(process.env.DRONES_SCHEDULER_PORT ?? 0), '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;
await run(bus, 'scheduler', `port=${port}`, () => new Promise<void>((resolve) => server.close(() => resolve())));
