/**
 * `missive publish <type> [json]`: puts a message on the bus. The payload is JSON from the argument
 * or stdin. Events go to their topic; commands are routed like `bus.send` (refused when nothing
 * handles them) or go straight to `--to <queue>`. The CLI knows no schemas: the consumer validates,
 * and dead-letters a payload that does not fit.
 *
 * @example
 * ```sh
 * missive publish shop.order-placed '{"orderId":"o-1","total":30}'
 * echo '{"orderId":"o-1"}' | missive publish payment.charge-card --kind command
 * ```
 * @module
 */
import { createEnvelope, jsonCodec, type Transport } from '@missive/core';
import { UsageError } from '../errors.js';
import type { Output } from '../output.js';

/** Arguments of publish. */
export interface PublishArgs {
  readonly type: string | undefined;
  readonly json: string | undefined;
  readonly kind: string;
  readonly to: string | undefined;
  readonly correlationId: string | undefined;
  readonly partitionKey: string | undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function publishCommand(transport: Transport, args: PublishArgs, out: Output): Promise<void> {
  if (args.type === undefined) throw new UsageError('publish needs a message type: missive publish <type> [json]');
  if (args.kind !== 'event' && args.kind !== 'command') throw new UsageError(`--kind must be event or command, got "${args.kind}"`);
  const text = args.json ?? (process.stdin.isTTY ? undefined : await readStdin());
  if (text === undefined || text.trim() === '') throw new UsageError('publish needs a JSON payload, as an argument or on stdin');
  let data: unknown;
  try {
    data = JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`the payload is not valid JSON: ${(error as Error).message}`);
  }
  const envelope = createEnvelope({
    type: args.type,
    source: '/missive/cli',
    data,
    kind: args.kind,
    correlationId: args.correlationId,
    partitionKey: args.partitionKey,
  });
  const message = {
    id: envelope.id,
    type: envelope.type,
    body: jsonCodec().encode(envelope),
    headers: {},
    partitionKey: envelope.partitionkey,
  };
  if (args.to !== undefined) await transport.send(args.to, message);
  else await transport.publish(args.type, message, { mandatory: args.kind === 'command' });
  if (out.json) out.document({ id: envelope.id, type: envelope.type });
  else out.line(`published ${envelope.type} ${envelope.id}`);
}
