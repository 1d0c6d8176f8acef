/**
 * The licensing service: serves licenses with their organization, cached. A miss asks the
 * organization service (request/reply); an OrganizationChanged event evicts the entry, so the next
 * read fetches fresh data. While the organization service is down, cached entries keep being served.
 *   GET /licenses/:organizationId
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stopOnSignals } from '@missive/core';
import { GetOrganization, OrganizationChanged } from './contracts.js';
import { cacheFromEnvironment } from './cache.js';
import { licensingBus, send } from './common.js';

const cache = cacheFromEnvironment();
const bus = licensingBus('licensing');
bus.endpoint(process.env.LICENSING_ENDPOINT ?? 'licensing', (e) =>
  e.on(OrganizationChanged, async (change) => {
    await cache.evict(change.organizationId);
    console.log(`licensing: evicted ${change.organizationId} (${change.action})`);
  }),
);

const server = createServer((req, res) => {
  void (async () => {
    const match = /^\/licenses\/([\w-]+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || match === null) return send(res, 404, { error: 'GET /licenses/:organizationId' });
    const organizationId = match[1]!;
    const cached = await cache.get(organizationId);
    if (cached !== undefined)
      return send(res, 200, {
        organizationId,
        product: 'Missive Pro',
        seats: 25,
        organization: JSON.parse(cached) as unknown,
        source: 'cache',
      });
    try {
      const { organization } = await bus.request(GetOrganization, { id: organizationId });
      if (organization === null) return send(res, 404, { error: `no organization ${organizationId}` });
      await cache.set(organizationId, JSON.stringify(organization));
      send(res, 200, { organizationId, product: 'Missive Pro', seats: 25, organization, source: 'organization-service' });
    } catch (error) {
      send(res, 503, { error: `organization service unavailable and ${organizationId} is not cached: ${(error as Error).message}` });
    }
  })();
});

stopOnSignals(bus, {
  onStop: async () => {
    server.close();
    await cache.close();
  },
});
await bus.start();
await new Promise<void>((resolve) => server.listen(Number(process.env.LICENSING_PORT ?? 0), '127.0.0.1', resolve));
console.log(`ready licensing port=${(server.address() as AddressInfo).port} cache=${cache.kind}`);
