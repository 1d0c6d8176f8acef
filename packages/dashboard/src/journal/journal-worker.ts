/**
 * The worker thread that writes a SQLite journal, so the inserts (and their index updates) run
 * beside the service's event loop instead of on it. It owns one {@link SqliteJournalStore} and
 * answers the requests of {@link WorkerJournalStore}: `{ id, op, args }` in, `{ id, value }` or
 * `{ id, error }` out.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { unpackBatch, type PackedBatch } from './journal-batch.js';
import { SqliteJournalStore } from './sqlite-journal-store.js';

interface Request {
  readonly id: number;
  readonly op: 'append' | 'appendPacked' | 'prune' | 'count' | 'conversation' | 'recent' | 'close';
  readonly args: unknown[];
}

const store = new SqliteJournalStore({ path: (workerData as { path: string }).path });
const port = parentPort!;

port.on('message', (request: Request) => {
  const run = async (): Promise<unknown> => {
    switch (request.op) {
      case 'append':
        return store.append(request.args[0] as Parameters<SqliteJournalStore['append']>[0]);
      case 'appendPacked':
        return store.append(unpackBatch(request.args[0] as PackedBatch));
      case 'prune':
        return store.prune(request.args[0] as Parameters<SqliteJournalStore['prune']>[0]);
      case 'count':
        return store.count();
      case 'conversation':
        return store.conversation(request.args[0] as string, request.args[1] as { limit?: number });
      case 'recent':
        return store.recent(request.args[0] as Parameters<SqliteJournalStore['recent']>[0]);
      case 'close':
        await store.close();
        return undefined;
    }
  };
  run().then(
    (value) => port.postMessage({ id: request.id, value }),
    (error: unknown) =>
      port.postMessage({
        id: request.id,
        error: error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) },
      }),
  );
});
