/**
 * CPU time of this process's main thread alone, in µs: what a bus (whose handlers run on that
 * thread) spent, without its worker threads. Read from Linux's `/proc/self/task/<pid>/schedstat`
 * (nanoseconds on a CPU, user and system); `process.cpuUsage()` counts every thread of the process.
 * Node 20 has no `process.threadCpuUsage()`.
 *
 * @example
 * ```ts
 * const before = mainThreadCpuUs();
 * work();
 * const spent = mainThreadCpuUs() - before;
 * ```
 * @module
 */
import { readFileSync } from 'node:fs';

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** Whether the main thread's own CPU time can be read here (Linux with schedstat). */
export function mainThreadCpuReadable(): boolean {
  try {
    readFileSync(SCHEDSTAT, 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** The main thread's CPU time so far, µs. Throws where {@link mainThreadCpuReadable} is false. */
export function mainThreadCpuUs(): number {
  return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1000;
}

/** The whole process's CPU time so far (every thread), µs. */
export function processCpuUs(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}
