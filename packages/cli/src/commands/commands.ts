/**
 * `missive commands`: which endpoint owns each command (and query) type, and which other queues
 * are bound to the type all the same (wire taps taking copies, or endpoints declared before
 * ownership was recorded: those receive copies of every command of the type).
 *
 * @example
 * ```sh
 * missive commands --url amqp://guest:guest@127.0.0.1:5672 --json
 * ```
 * @module
 */
import type { Transport } from '@missive/core';
import type { Output } from '../output.js';
import { UsageError } from '../errors.js';

export async function commandsCommand(transport: Transport, out: Output): Promise<void> {
  if (transport.commandOwners === undefined) throw new UsageError(`the ${transport.kind} transport keeps no record of command owners`);
  const owners = await transport.commandOwners.owners();
  const queues = await transport.queues();
  out.table(
    owners.map((o) => ({
      type: o.type,
      owner: o.queue,
      service: o.service,
      since: new Date(o.since).toISOString(),
      alsoBound: queues.filter((q) => q.name !== o.queue && q.topics.includes(o.type)).map((q) => q.name),
    })),
    ['type', 'owner', 'service', 'since', 'alsoBound'],
  );
}
