/**
 * The logging interface the bus and transports write to. It follows the convention pino set for
 * Node: structured fields first, then the message (`logger.warn({ endpoint, err }, 'handler
 * failed')`), and `child(bindings)` for a logger that adds fields to every line. A pino logger
 * passes straight in; {@link consoleLogger} is the readable default. Nothing logged ever contains a
 * credential: URLs go through {@link redactUrl}.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const bus = createBus({ service: 'shop', transport: 'memory://', logger: pino() });
 * const dev = createBus({ service: 'shop', transport: 'memory://', logger: consoleLogger('debug') });
 * ```
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The structured fields of one log line. `err` holds an `Error` (pino's convention). */
export type LogFields = Record<string, unknown>;

/** One level's method: `(fields, message)` or `(message)`, as pino takes them. */
export interface LogMethod {
  (fields: LogFields, message?: string): void;
  (message: string): void;
}

/** A structured logger (pino's shape). */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger that adds `bindings` to every line. Optional: {@link childLogger} supplies it when absent. */
  child?(bindings: LogFields): Logger;
}

/** Options of {@link consoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Where lines go. Default: `process.stderr`. */
  readonly write?: (line: string) => void;
  /** Fields on every line. */
  readonly bindings?: LogFields;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger that writes one readable line per call at `level` and above:
 * `2026-11-29T18:00:00.000Z WARN  handler failed endpoint=billing attempt=2 error="Error: boom"`.
 */
export function consoleLogger(level: LogLevel = 'warn', options: ConsoleLoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const make = (bindings: LogFields | undefined): Logger => {
    const method =
      (at: LogLevel): LogMethod =>
      (first: LogFields | string, message?: string) => {
        if (order[at] < order[level]) return;
        const [fields, text] = typeof first === 'string' ? [undefined, first] : [first, message ?? ''];
        const tail = formatFields(bindings, fields);
        write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${text}${tail === '' ? '' : ` ${tail}`}\n`);
      };
    return {
      debug: method('debug'),
      info: method('info'),
      warn: method('warn'),
      error: method('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make(options.bindings);
}

const noop = (() => undefined) as LogMethod;

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger });

/** `logger.child(bindings)`, or a wrapper that adds `bindings` when the logger has no `child`. */
export function childLogger(logger: Logger, bindings: LogFields): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const method =
    (at: LogLevel): LogMethod =>
    (first: LogFields | string, message?: string) => {
      if (typeof first === 'string') logger[at]({ ...bindings }, first);
      else logger[at]({ ...bindings, ...first }, message);
    };
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    child: (more) => childLogger(logger, { ...bindings, ...more }),
  };
}

/** `key=value` pairs; strings with spaces are quoted, errors print as `Name: message`. */
function formatFields(bindings: LogFields | undefined, fields: LogFields | undefined): string {
  const parts: string[] = [];
  const add = (source: LogFields | undefined) => {
    if (source === undefined) return;
    for (const [key, value] of Object.entries(source)) {
      if (value === undefined) continue;
      parts.push(`${key}=${formatValue(value)}`);
    }
  };
  add(bindings);
  add(fields);
  return parts.join(' ');
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[\w./:@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message}` : v)) ?? typeof value;
  } catch {
    return '[unserialisable]';
  }
}

/**
 * Schemes whose user part without a password is a secret (a NATS token, `nats://TOKEN@host`), not
 * a user name as for amqp, redis or postgres.
 */
const TOKEN_SCHEMES = new Set(['nats:', 'tls:']);

/**
 * A URL as it may be printed: password (and a `password` query parameter) replaced by `***`, and
 * the token of a `nats://TOKEN@host` URL too. Accepts text that is not a URL and returns a
 * placeholder rather than echoing it.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.password !== '') parsed.password = '***';
  else if (parsed.username !== '' && TOKEN_SCHEMES.has(parsed.protocol)) parsed.username = '***';
  for (const key of ['password', 'pass', 'token', 'secret']) {
    if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
  }
  return parsed.href;
}
