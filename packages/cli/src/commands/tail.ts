/**
 * `missive tail <pattern>...`: watches messages of the chosen topics live, through a temporary
 * queue bound to the patterns (`*` one word, `#` any words), deleted when the command ends (after
 * `--count` messages, or on Ctrl-C). It sees messages routed by topic (events and routed commands),
 * from the moment it starts.
 *
 * @example
 * ```sh
 * missive tail 'shop.#' --count 10 --json
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { jsonCodec, type Transport } from '@missive/core';
import { checkTopicPattern } from '@missive/core/transport';
import { UsageError } from '../errors.js';
import { printable, type Output } from '../output.js';

export async function tailCommand(
  transport: Transport,
  patterns: readonly string[],
  count: number | undefined,
  out: Output,
): Promise<void> {
  if (patterns.length === 0) throw new UsageError('tail needs at least one topic pattern, for example: missive tail "shop.#"');
  for (const pattern of patterns) {
    try {
      checkTopicPattern(pattern);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const queue = `missive-tail-${randomBytes(4).toString('hex')}`;
  await transport.declare({ name: queue, topics: patterns, temporary: true });
  const consumer = transport.consume(queue, { prefetch: 32 });
  const stop = () => void consumer.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (!out.json) out.line(`tailing ${patterns.join(' ')} (Ctrl-C to stop)`);
  else process.stderr.write(`tailing ${patterns.join(' ')}\n`);
  let seen = 0;
  const codec = jsonCodec();
  try {
    for await (const delivery of consumer) {
      let line: { time?: string; type: string; id: string; correlationId?: string; data?: unknown; undecodable?: string };
      try {
        const e = codec.decode(delivery.message.body);
        // A payload nested too deeply to serialize (JSON.parse reads it, JSON.stringify overflows the
        // stack) throws here and shows as undecodable, instead of ending the tail.
        JSON.stringify(e.data);
        line = { time: e.time, type: e.type, id: e.id, correlationId: e.correlationid, data: e.data };
      } catch (error) {
        line = { type: delivery.message.type, id: delivery.message.id, undecodable: (error as Error).message };
      }
      if (out.json) out.line(JSON.stringify(line));
      else
        out.line(
          printable(
            `${line.time ?? ''} ${line.type} ${line.id} corr=${line.correlationId ?? ''} ${JSON.stringify(line.data ?? line.undecodable)}`,
            true,
          ),
        );
      await delivery.ack();
      seen++;
      if (count !== undefined && seen >= count) break;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await consumer.close();
    await transport.deleteQueue(queue).catch(() => undefined);
  }
}
