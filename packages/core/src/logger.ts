/**
 * The logging interface the bus and transports write to. Any structured logger (pino, console)
 * fits. Nothing logged ever contains a credential: URLs go through {@link redactUrl}.
 *
 * @example
 * ```ts
 * const bus = createBus({ service: 'shop', transport: 'memory://', logger: consoleLogger('debug') });
 * ```
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A structured logger. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes lines to stderr at `level` and above. */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const write = (at: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (order[at] < order[level]) return;
    const tail = fields === undefined ? '' : ` ${safeStringify(fields)}`;
    process.stderr.write(`[missive] ${at} ${message}${tail}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });

function safeStringify(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return '[unserialisable fields]';
  }
}

/**
 * A URL as it may be printed: password (and a `password` query parameter) replaced by `***`.
 * Accepts text that is not a URL and returns a placeholder rather than echoing it.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.password !== '') parsed.password = '***';
  for (const key of ['password', 'pass', 'token', 'secret']) {
    if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.href;
}
