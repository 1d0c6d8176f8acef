/**
 * Child processes for tests: start one, wait for a line of its output that matches, kill it (SIGKILL
 * to simulate a crash, SIGTERM to stop it), and make sure none outlives the test.
 *
 * @example
 * ```ts
 * const child = startProcess(process.execPath, ['dist/service.js'], { env: { MISSIVE_URL: url } });
 * await child.waitFor(/^ready/);
 * child.kill('SIGKILL');
 * await child.exited;
 * ```
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A started process. */
export interface TestProcess {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: readonly string[];
  /** Stderr so far (for failure messages). */
  readonly stderr: () => string;
  /**
   * Resolves with the `count`-th line (default the first; lines already seen count) that matches;
   * rejects on exit or timeout.
   */
  waitFor(pattern: RegExp, timeoutMs?: number, count?: number): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts a process with piped output. */
export function startProcess(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string; readonly stdin?: string } = {},
): TestProcess {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  else child.stdin.end();
  live.add(child);
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<(line: string) => void>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) waiter(line);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  // Ends when the process exited and its output was read to the end ('close'): on 'exit' alone the
  // last lines may still be in the pipe. A grandchild that inherited the pipes can hold them open
  // after the process died; then the output read by 1 s after the exit is what there is.
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('exit', (code, signal) => {
      live.delete(child);
      setTimeout(() => resolve(code ?? signal ?? 'unknown'), 1000).unref();
    });
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    waitFor(pattern, timeoutMs = 30_000, count = 1) {
      let matched = 0;
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match !== null && ++matched >= count) return Promise.resolve(match);
      }
      return new Promise((resolve, reject) => {
        const done = () => {
          waiters.delete(onLine);
          clearTimeout(timer);
        };
        const onLine = (line: string) => {
          const match = pattern.exec(line);
          if (match === null || ++matched < count) return;
          done();
          resolve(match);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `${count === 1 ? 'no line' : `${matched} of ${count} lines`} matching ${String(pattern)} within ${timeoutMs} ms; stdout: ${lines.slice(-5).join(' | ')}; stderr: ${stderr.slice(-1000)}`,
            ),
          );
        }, timeoutMs);
        waiters.add(onLine);
        void exited.then((code) => {
          if (!waiters.has(onLine)) return;
          done();
          reject(new Error(`process exited (${String(code)}) before a line matching ${String(pattern)}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    exited,
  };
}
