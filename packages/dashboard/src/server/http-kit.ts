/**
 * The few HTTP helpers the dashboard's server needs on top of `node:http`: JSON answers, a
 * size-limited JSON body, errors with a status, and the access-token check (constant time).
 *
 * @example
 * ```ts
 * if (!authorized(req, url, token)) return sendError(res, new HttpError(401, 'a valid token is required'));
 * sendJson(res, 200, { ok: true });
 * ```
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error with the HTTP status to answer with. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1 << 20;

/**
 * Headers of every answer: no MIME sniffing (a JSON answer that holds a message's text is never
 * read as HTML), no framing (clickjacking), no referrer. The page's own policy is {@link PAGE_POLICY}.
 */
export const SAFE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The Content-Security-Policy of the page and its files: only its own scripts (no inline script or handler), no plugins, no framing. */
export const PAGE_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Answers with `value` as JSON. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...SAFE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Answers with an error document; an unexpected error is a 500 whose message is still shown (it never holds credentials: URLs are redacted by core). */
export function sendError(res: ServerResponse, error: unknown): void {
  const status = error instanceof HttpError ? error.status : 500;
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  if (!res.headersSent) sendJson(res, status, { error: { name, message } });
  else res.end();
}

/** The request's JSON body (at most 1 MiB; `{}` when empty). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'the body is larger than 1 MiB');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Whether the request carries `token`: `Authorization: Bearer <token>`, or, where `inQuery` allows
 * it (the live tail's EventSource, which sends no headers), `?token=`. Only there: a token in a URL
 * ends up in proxy logs and shell history, and must not be enough to replay or purge.
 */
export function authorized(req: IncomingMessage, url: URL, token: string, inQuery = false): boolean {
  const header = req.headers.authorization;
  const given = header?.startsWith('Bearer ') === true ? header.slice(7) : inQuery ? (url.searchParams.get('token') ?? '') : '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
