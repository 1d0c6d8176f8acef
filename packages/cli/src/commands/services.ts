/**
 * `missive services` and `missive asyncapi`: the live service catalog. Every bus that runs
 * `announce()` (from `@missive/dashboard`) answers the command's ping with its announcement; the
 * command listens for `--wait` ms (default 1500), then prints the live instances (with their health:
 * ready, or why not, as each bus last announced it) and, for each
 * contract, who sends it and who handles it — or the AsyncAPI 3 document of all of them, or of one
 * `--service`.
 *
 * @example
 * ```sh
 * missive services --url sqlite://.missive/bus.db
 * missive asyncapi --service payment --out payment.asyncapi.json
 * ```
 * @module
 */
import { writeFileSync } from 'node:fs';
import type { Transport } from '@missive/core';
import { asyncApiOf, watchCatalog, type WatchedCatalog } from '@missive/dashboard';
import type { Output } from '../output.js';

/** Default of `--wait`, ms. */
export const CATALOG_WAIT_MS = 1500;

async function gather(transport: Transport, waitMs: number): Promise<WatchedCatalog> {
  const catalog = await watchCatalog(transport);
  // How many services exist is unknown up front: collect what answers the ping within the window.
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  await catalog.close();
  return catalog;
}

/** An instance's health as one cell: `ready`, `not ready: <reasons>`, or `-` when it did not say. */
export function healthOf(health: { readonly ready: boolean; readonly reasons: readonly string[] } | undefined): string {
  if (health === undefined) return '-';
  return health.ready ? 'ready' : `not ready: ${health.reasons.join('; ')}`;
}

export async function servicesCommand(transport: Transport, options: { readonly waitMs: number }, out: Output): Promise<void> {
  const catalog = await gather(transport, options.waitMs);
  const instances = catalog.instances();
  const contracts = catalog.contracts();
  if (out.json) {
    out.document({ instances, contracts });
    return;
  }
  out.table(
    instances.map((i) => ({
      service: i.service,
      instance: i.instance,
      status: i.status,
      version: i.version,
      health: healthOf(i.health),
      host: i.host,
      endpoints: i.endpoints.map((e) => e.name),
    })),
    ['service', 'instance', 'status', 'health', 'version', 'host', 'endpoints'],
  );
  out.line('');
  out.table(
    contracts.map((c) => ({ contract: c.name, kind: c.kind, sentBy: c.sentBy, handledBy: c.handledBy })),
    ['contract', 'kind', 'sentBy', 'handledBy'],
  );
}

export async function asyncApiCommand(
  transport: Transport,
  options: {
    readonly waitMs: number;
    readonly service: string | undefined;
    readonly title: string | undefined;
    readonly out: string | undefined;
  },
  out: Output,
): Promise<void> {
  const catalog = await gather(transport, options.waitMs);
  const document = asyncApiOf(catalog.instances(), { service: options.service, title: options.title });
  const text = `${JSON.stringify(document, null, 2)}\n`;
  if (options.out === undefined) {
    out.line(text.trimEnd());
    return;
  }
  writeFileSync(options.out, text);
  out.line(
    `wrote ${options.out} (${Object.keys(document.channels as object).length} channels, ${Object.keys(document.operations as object).length} operations)`,
  );
}
