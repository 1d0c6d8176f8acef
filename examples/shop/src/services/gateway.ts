/**
 * The gateway: the shop's HTTP API. `POST /orders` `{ sku, qty, amount }` places an order (202 with
 * its id); `GET /orders/:id` asks the order service for its status (request/reply).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, trace } from '@opentelemetry/api';
import { z } from 'zod';
import { GetOrderStatus, OrderPlaced } from '../contracts.js';
import { run, serviceBus, settings } from '../runtime.js';

const config = settings();
const bus = serviceBus('gateway', config);
const tracer = trace.getTracer('shop-gateway');
const NewOrder = z.object({ sku: z.string(), qty: z.number().int().positive(), amount: z.number().positive() });

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = createServer((req, res) => {
  void (async () => {
    try {
      if (req.method === 'POST' && req.url === '/orders') {
        const parsed = NewOrder.safeParse(await body(req).catch(() => undefined));
        if (!parsed.success) return reply(res, 400, { error: 'expected { sku, qty, amount }', issues: parsed.error.issues });
        const orderId = randomUUID();
        // The span an instrumented HTTP server would make: the order's trace starts here.
        const traceId = await tracer.startActiveSpan(
          'POST /orders',
          { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': '/orders' } },
          async (span) => {
            try {
              await bus.publish(OrderPlaced, { orderId, ...parsed.data, placedAt: Date.now() });
              return span.isRecording() ? span.spanContext().traceId : undefined;
            } finally {
              span.end();
            }
          },
        );
        return reply(res, 202, { orderId, traceId });
      }
      const match = /^\/orders\/([\w-]+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && match !== null) {
        return reply(res, 200, await bus.request(GetOrderStatus, { orderId: match[1]! }, { timeoutMs: 5000 }));
      }
      reply(res, 404, { error: 'POST /orders or GET /orders/:id' });
    } catch (error) {
      reply(res, 503, { error: (error as Error).message });
    }
  })();
});

await new Promise<void>((resolve) => server.listen(Number(process.env.SHOP_PORT ?? 0), '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
await run(bus, 'gateway', `port=${port}`, () => new Promise<void>((resolve) => server.close(() => resolve())));
