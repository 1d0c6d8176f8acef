/** The analytics service: a wire tap on every message of the shop, counted by type and reported on stop. */
import { defineQuery } from '@missive/core';
import { z } from 'zod';
import { run, serviceBus, settings } from '../runtime.js';

/** How many messages of each type analytics saw. */
export const GetAnalytics = defineQuery('analytics.get-counts', z.object({}), z.object({ counts: z.record(z.string(), z.number()) }));

const config = settings();
const counts = new Map<string, number>();
const bus = serviceBus('analytics', config);
bus.endpoint('analytics', (e) =>
  e.tap(['shop.#', 'inventory.#', 'payment.#'], (envelope) => {
    if (envelope.type === 'shop.service-stats') return;
    counts.set(envelope.type, (counts.get(envelope.type) ?? 0) + 1);
  }),
);
bus.endpoint('analytics-queries', (e) => e.reply(GetAnalytics, () => ({ counts: Object.fromEntries(counts) })));
await run(bus, 'analytics');
