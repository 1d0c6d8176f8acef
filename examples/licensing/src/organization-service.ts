/**
 * The organization service: owns organizations. Every create, update and delete commits with an
 * OrganizationChanged event in one transaction (outbox), so no change goes unannounced.
 *   PUT /organizations/:id { name, contactEmail }   DELETE /organizations/:id
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stopOnSignals } from '@missive/core';
import { SqliteMessageStore } from '@missive/sqlite';
import type { z } from 'zod';
import { GetOrganization, Organization, OrganizationChanged } from './contracts.js';
import { dataDir, licensingBus, readJson, send } from './common.js';

const store = new SqliteMessageStore({ path: join(dataDir(), 'organization.db') });
store.db.exec('create table if not exists organizations (id text primary key, name text not null, contact_email text not null)');
const find = store.db.prepare('select id, name, contact_email as contactEmail from organizations where id = ?');
const upsert = store.db.prepare(
  'insert into organizations (id, name, contact_email) values (?, ?, ?) on conflict (id) do update set name = excluded.name, contact_email = excluded.contact_email',
);
const remove = store.db.prepare('delete from organizations where id = ?');

const bus = licensingBus('organization');
const outbox = bus.outbox(store, { pollIntervalMs: 200 });
bus.endpoint('organization', (e) =>
  e.reply(GetOrganization, (q) => ({ organization: (find.get(q.id) as OrganizationRow | undefined) ?? null })),
);
const Body = Organization.omit({ id: true });
type OrganizationRow = z.infer<typeof Organization>;

const server = createServer((req, res) => {
  void (async () => {
    const match = /^\/organizations\/([\w-]+)$/.exec(req.url ?? '');
    if (match === null) return send(res, 404, { error: 'PUT or DELETE /organizations/:id' });
    const id = match[1]!;
    if (req.method === 'PUT') {
      const body = Body.safeParse(await readJson(req).catch(() => undefined));
      if (!body.success) return send(res, 400, { error: 'expected { name, contactEmail }' });
      const action = await outbox.transaction((tx) => {
        const existed = find.get(id) !== undefined;
        upsert.run(id, body.data.name, body.data.contactEmail);
        const change = existed ? ('updated' as const) : ('created' as const);
        tx.publish(OrganizationChanged, { action: change, organizationId: id });
        return change;
      });
      return send(res, 200, { id, action });
    }
    if (req.method === 'DELETE') {
      await outbox.transaction((tx) => {
        if (remove.run(id).changes > 0) tx.publish(OrganizationChanged, { action: 'deleted', organizationId: id });
      });
      return send(res, 204, {});
    }
    send(res, 405, { error: 'PUT or DELETE' });
  })().catch((error: unknown) => send(res, 500, { error: (error as Error).message }));
});

stopOnSignals(bus, {
  onStop: async () => {
    server.close();
    await store.close();
  },
});
await bus.start();
await new Promise<void>((resolve) => server.listen(Number(process.env.ORGANIZATION_PORT ?? 0), '127.0.0.1', resolve));
console.log(`ready organization port=${(server.address() as AddressInfo).port}`);
