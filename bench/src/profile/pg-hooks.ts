/**
 * Instruments every `pg` client of the process for the PostgreSQL trace (`pg-trace.ts`): each
 * statement's start and end (machine-wide monotonic µs), its name, and the order ids it carried
 * (found in the bytes of its `Buffer` parameters, or of the `body` of the rows it returned); and
 * each notification's arrival. Bench-only: the package code is not touched.
 *
 * @example
 * ```ts
 * const hooks = installPgHooks();
 * hooks.recording = true;
 * ```
 * @module
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { nowUs } from '../harness/time.js';

/** One statement as a client ran it. */
export interface StatementEvent {
  /** The statement's name (`missive.<schema>.claim` → `claim`), or its first words. */
  readonly what: string;
  readonly t0: number;
  t1: number;
  /** Order ids carried in, or returned. */
  ids: string[];
  rows: number;
}

const ORDER_ID = /"orderId":"(o-\d+)"/g;

function idsIn(value: unknown, into: string[]): void {
  if (Buffer.isBuffer(value)) for (const m of value.toString('latin1').matchAll(ORDER_ID)) into.push(m[1]!);
}

function shortName(config: unknown): string {
  if (typeof config === 'string') return config.trim().split(/\s+/).slice(0, 2).join(' ');
  const c = config as { name?: string; text?: string };
  if (typeof c.name === 'string') return c.name.replace(/^missive\.[^.]+\./, '');
  return shortName(c.text ?? '?');
}

/** What the hooks record while `recording` is true. */
export interface PgHooks {
  recording: boolean;
  readonly statements: StatementEvent[];
  /** Arrival times of notifications (µs). */
  readonly notifications: number[];
  /** Statement counts by name while recording (kept even when `keepEvents` is false). */
  readonly counts: Map<string, number>;
  /** False: count statements only (a throughput phase). */
  keepEvents: boolean;
  /** Server process ids of every client that ran a statement. */
  readonly backends: Set<number>;
}

/** CPU µs (user + system) each server process has used so far, from `/proc` (same machine). */
export function backendCpu(pids: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000); // utime, stime in ticks of 10 ms
    } catch {
      // the backend is gone, or /proc is not ours to read
    }
  }
  return out;
}

/** CPU µs the server processes used between two {@link backendCpu} readings (new ones count from 0). */
export function backendCpuSince(before: Map<number, number>, pids: Iterable<number>): number {
  let sum = 0;
  for (const [pid, us] of backendCpu(pids)) sum += us - (before.get(pid) ?? 0);
  return sum;
}

/** Patches `pg.Client` once per process; returns the recorder. */
export function installPgHooks(): PgHooks {
  const hooks: PgHooks = { recording: false, keepEvents: true, statements: [], notifications: [], counts: new Map(), backends: new Set() };
  const proto = pg.Client.prototype as unknown as {
    query: (...args: unknown[]) => unknown;
    emit: (event: string, ...args: unknown[]) => boolean;
  };
  const query = proto.query;
  proto.query = function (this: { processID?: number }, ...args: unknown[]) {
    if (this.processID !== undefined) hooks.backends.add(this.processID);
    if (!hooks.recording) return query.apply(this, args);
    const what = shortName(args[0]);
    hooks.counts.set(what, (hooks.counts.get(what) ?? 0) + 1);
    if (!hooks.keepEvents) return query.apply(this, args);
    const event: StatementEvent = { what, t0: nowUs(), t1: Number.NaN, ids: [], rows: 0 };
    hooks.statements.push(event);
    const values = Array.isArray(args[1]) ? args[1] : ((args[0] as { values?: unknown[] }).values ?? []);
    for (const v of values) idsIn(v, event.ids);
    const finish = (res: { rows?: { body?: unknown }[] } | undefined) => {
      event.t1 = nowUs();
      event.rows = res?.rows?.length ?? 0;
      for (const row of res?.rows ?? []) idsIn(row.body, event.ids);
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: unknown, res: { rows?: { body?: unknown }[] }) => {
        finish(res);
        (last as (e: unknown, r: unknown) => void)(err, res);
      };
      return query.apply(this, args);
    }
    const out = query.apply(this, args) as Promise<{ rows?: { body?: unknown }[] }> | undefined;
    if (out !== undefined && typeof out.then === 'function') out.then(finish, () => finish(undefined));
    return out;
  };
  proto.emit = function (this: EventEmitter, event: string, ...rest: unknown[]) {
    if (event === 'notification' && hooks.recording && hooks.keepEvents) hooks.notifications.push(nowUs());
    return EventEmitter.prototype.emit.call(this, event, ...rest);
  };
  return hooks;
}
