/**
 * The two processes of the PostgreSQL trace (`pg-trace.ts`), each a benchmark subject with every
 * `pg` client instrumented (`pg-hooks.ts`). Both count statements and CPU over a throughput phase
 * (windowed publishing), then record every statement and notification over a latency phase (paced
 * publishing); the consumer also records when each order reached its handler.
 *
 * @module
 */
import type { Ipc } from '../harness/ipc.js';
import type { Order } from '../harness/payload.js';
import { loadSubject, publishPaced, publishWindowed, Tally } from '../harness/roles.js';
import type { SubjectArgs } from '../harness/subject.js';
import { nowUs } from '../harness/time.js';
import { backendCpu, backendCpuSince, installPgHooks, type StatementEvent } from './pg-hooks.js';

export interface TraceRoleArgs {
  readonly subject: string;
  readonly args: SubjectArgs;
}

/** What each process reports. */
export interface TraceReport {
  /** CPU µs (user + system) over the throughput phase. */
  readonly cpuUs: number;
  /** CPU µs of the process's PostgreSQL backends over the throughput phase. */
  readonly serverCpuUs: number;
  /** Statements run over the throughput phase, by name. */
  readonly counts: Record<string, number>;
  readonly statements: StatementEvent[];
  readonly notifications: number[];
  /** Consumer only: order id → handler entry (µs) and its publish time. */
  readonly handled: [string, number, number][];
}

/** The publish commands the runner sends. */
export type TraceCommand =
  | { readonly mode: 'window'; readonly count: number; readonly first: number; readonly record: 'count' | 'none' }
  | { readonly mode: 'paced'; readonly count: number; readonly rate: number; readonly first: number }
  | { readonly mode: 'stop' };

export async function tracePublisher({ subject, args }: TraceRoleArgs, ipc: Ipc): Promise<TraceReport> {
  const hooks = installPgHooks();
  const publisher = await (await loadSubject(subject)).createPublisher!(args);
  ipc.send('ready', {});
  let cpuUs = 0;
  let counts: Record<string, number> = {};
  let serverCpuUs = 0;
  for (;;) {
    const command = (await ipc.next('publish')) as TraceCommand;
    if (command.mode === 'stop') break;
    if (command.mode === 'window') {
      hooks.recording = command.record === 'count';
      hooks.keepEvents = false;
      const cpu = process.cpuUsage();
      const server = backendCpu(hooks.backends);
      await publishWindowed(publisher, command.count, 32, command.record === 'count' ? 't' : 'w', command.first);
      const used = process.cpuUsage(cpu);
      if (command.record === 'count') {
        cpuUs = used.user + used.system;
        serverCpuUs = backendCpuSince(server, hooks.backends);
        counts = Object.fromEntries(hooks.counts);
      }
    } else {
      hooks.recording = true;
      hooks.keepEvents = true;
      await publishPaced(publisher, command.count, command.rate, 'l', command.first);
    }
    hooks.recording = false;
    ipc.send('published', {});
  }
  await publisher.close();
  return { cpuUs, serverCpuUs, counts, statements: hooks.statements, notifications: hooks.notifications, handled: [] };
}

export async function traceConsumer({ subject, args }: TraceRoleArgs, ipc: Ipc): Promise<TraceReport> {
  const hooks = installPgHooks();
  const tally = new Tally();
  const handled: [string, number, number][] = [];
  let cpuAtFirst: NodeJS.CpuUsage | undefined;
  let serverAtFirst = new Map<number, number>();
  let cpuUs = 0;
  const onMessage = (order: Order) => {
    if (order.phase === 't' && cpuAtFirst === undefined) {
      cpuAtFirst = process.cpuUsage();
      serverAtFirst = backendCpu(hooks.backends);
      hooks.recording = true;
      hooks.keepEvents = false;
    }
    if (order.phase === 'l') handled.push([order.orderId, nowUs(), order.sentAt]);
    tally.onMessage(order);
  };
  const subscription = await (await loadSubject(subject)).createConsumer!(args, onMessage);
  ipc.send('ready', {});
  const progress = setInterval(() => ipc.send('progress', tally.counts), 50);
  const tCount = (await ipc.next('tCount')) as number;
  await tally.reach('t', tCount, 300_000);
  const used = process.cpuUsage(cpuAtFirst);
  cpuUs = used.user + used.system;
  const serverCpuUs = backendCpuSince(serverAtFirst, hooks.backends);
  hooks.recording = false;
  // (statements of the first `t` message's own claim were not counted: one claim in thousands)
  const counts = Object.fromEntries(hooks.counts);
  ipc.send('counted', {});
  await ipc.next('record');
  hooks.keepEvents = true;
  hooks.recording = true;
  await ipc.next('stop');
  clearInterval(progress);
  hooks.recording = false;
  await subscription.close();
  return { cpuUs, serverCpuUs, counts, statements: hooks.statements, notifications: hooks.notifications, handled };
}
