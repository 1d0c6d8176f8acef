/**
 * The live tail as server-sent events: a temporary queue bound to the type patterns (`*` one word,
 * `#` any words), each message sent to the browser as one event, the queue deleted when the
 * browser goes. It sees messages routed by topic (events and routed commands), as `missive tail`.
 *
 * @example
 * ```ts
 * await tail(transport, ['shop.#'], req, res); // text/event-stream until the client disconnects
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonCodec, type Transport } from '@missive/core';
import { checkTopicPattern } from '@missive/core/transport';
import { declareListenerQueue } from '../catalog/listener-queue.js';
import { HttpError, SAFE_HEADERS } from './http-kit.js';

/** The largest tail event, characters; a larger payload is cut to its first {@link PREVIEW}. */
const MAX_EVENT = 64 * 1024;
const PREVIEW = 2000;

/**
 * A tail line as JSON, its payload cut when the line is larger than 64 KiB. A payload nested too deeply to serialize (200,000 nested arrays: a 400 KB
 * message JSON.parse reads, JSON.stringify overflows the stack on) is shown as undecodable: it
 * ended the stream, and so every open tail, for everyone watching.
 */
export function eventData(line: Record<string, unknown>): string {
  try {
    const text = JSON.stringify(line);
    if (text.length <= MAX_EVENT) return text;
    // The page keeps the last 500 lines: unbounded, a few large messages would take the tab's memory.
    const data = JSON.stringify(line.data) ?? '';
    return JSON.stringify({
      ...line,
      data: `(${data.length} characters, too large for the tail; the first ${PREVIEW}:) ${data.slice(0, PREVIEW)}`,
    });
  } catch (error) {
    return JSON.stringify({ type: line.type, id: line.id, undecodable: `the payload cannot be shown: ${(error as Error).message}` });
  }
}

/** Streams the messages of `patterns` to `res` until the request closes. */
export async function tail(transport: Transport, patterns: readonly string[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (patterns.length === 0) throw new HttpError(400, 'tail needs a type pattern, for example shop.#');
  for (const pattern of patterns) {
    try {
      checkTopicPattern(pattern);
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
  }
  const queue = `missive-dashboard-tail-${randomBytes(4).toString('hex')}`;
  await declareListenerQueue(transport, queue, patterns);
  const consumer = transport.consume(queue, { prefetch: 64 });
  await consumer.ready;
  res.writeHead(200, { ...SAFE_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
  res.write(`event: ready\ndata: ${JSON.stringify({ patterns })}\n\n`);
  const closed = () => void consumer.close();
  req.once('close', closed);
  const codec = jsonCodec();
  try {
    for await (const delivery of consumer) {
      let line: Record<string, unknown>;
      try {
        const e = codec.decode(delivery.message.body);
        line = { time: e.time, type: e.type, id: e.id, source: e.source, correlationId: e.correlationid, data: e.data };
      } catch (error) {
        line = { type: delivery.message.type, id: delivery.message.id, undecodable: (error as Error).message };
      }
      res.write(`data: ${eventData(line)}\n\n`);
      await delivery.ack();
    }
  } finally {
    req.off('close', closed);
    await consumer.close();
    await transport.deleteQueue(queue).catch(() => undefined);
    res.end();
  }
}
