/**
 * Graceful shutdown for a service process: on SIGTERM or SIGINT, stop the bus (it drains: in-flight
 * handlers finish or are handed back), run the service's own clean-up, and exit. What every service
 * `main` otherwise writes by hand.
 *
 * Exit codes: 0 when the bus stopped cleanly; 1 when stopping or the clean-up threw (the error is
 * logged); a second signal while draining exits at once with 128 + the signal's number (130 for
 * SIGINT, 143 for SIGTERM), the shell's convention for "killed".
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'billing', transport: 'sqlite://.missive/bus.db' });
 * stopOnSignals(bus, { onStop: () => server.close() });
 * await bus.start();
 * ```
 * @module
 */
import { consoleLogger, type Logger } from '../logger.js';

/** What `stopOnSignals` stops: anything with a draining `stop()`, such as a `Bus`. */
export interface Stoppable {
  stop(): Promise<void>;
}

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /** The signals that start a graceful stop (default `['SIGTERM', 'SIGINT']`). */
  readonly signals?: readonly ('SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGQUIT')[];
  /** Runs after the bus has stopped (close an HTTP server, a database pool...). */
  readonly onStop?: () => void | Promise<void>;
  /** Where a failed stop is reported (default: console, warnings and above). */
  readonly logger?: Logger;
  /** How the process ends (default `process.exit`); tests pass their own. */
  readonly exit?: (code: number) => void;
}

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const;

/**
 * Stops `bus` gracefully on the first of `signals` and then exits (see the module comment for the
 * exit codes). Returns a function that removes the signal handlers again.
 *
 * @example
 * ```ts
 * const remove = stopOnSignals(bus);
 * ```
 */
export function stopOnSignals(bus: Stoppable, options: StopOnSignalsOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger ?? consoleLogger('warn');
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: keyof typeof SIGNAL_NUMBERS): void => {
    if (stopping) {
      logger.warn(`${signal} again while stopping: exiting without waiting for the drain`);
      exit(128 + SIGNAL_NUMBERS[signal]);
      return;
    }
    stopping = true;
    void (async () => {
      let code = 0;
      try {
        await bus.stop();
        await options.onStop?.();
      } catch (error) {
        logger.error({ err: error }, 'stopping on a signal failed');
        code = 1;
      }
      exit(code);
    })();
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
