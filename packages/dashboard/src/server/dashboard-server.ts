/**
 * The dashboard: a `node:http` server (no framework: a dozen routes) on 127.0.0.1 by default,
 * serving the web UI (built by `npm run build`, no CDN: works offline) and its JSON API over a
 * connected transport, the live catalog and, when given, the journal.
 *
 * Access: a random token is made at start unless one is given; every `/api` request needs it
 * (`Authorization: Bearer`, or `?token=` for the live tail's EventSource and only there), reads included, since
 * dead letters and payloads hold business data. Mutations are POSTs with a JSON body, so a
 * cross-site form cannot make one. The UI takes the token from the URL's fragment
 * (`/#token=…`), which browsers never send to a server.
 *
 * @example
 * ```ts
 * const dashboard = await startDashboard({ transport, journal: await openJournalStore('sqlite://.missive/journal.db') });
 * console.log(dashboard.url); // http://127.0.0.1:41234/#token=…
 * await dashboard.close();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigurationError, type Transport } from '@missive/core';
import { asyncApiOf } from '../asyncapi.js';
import { watchCatalog, type WatchedCatalog } from '../catalog/catalog.js';
import { mermaidOf } from '../conversation/mermaid.js';
import { sequenceOf } from '../conversation/sequence.js';
import { svgOf } from '../conversation/svg.js';
import type { JournalStore } from '../journal/journal-store.js';
import { listDeadLetters, replayOrPurge, showDeadLetter } from './dead-letters-api.js';
import { authorized, HttpError, PAGE_POLICY, readJson, SAFE_HEADERS, sendError, sendJson } from './http-kit.js';
import { QueueHistory } from './queue-history.js';
import { tail } from './tail.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** A connected transport (the dashboard does not close it). */
  readonly transport: Transport;
  /** The journal to draw conversations from; without one, the Conversations view says so. */
  readonly journal?: JournalStore | undefined;
  /** Address to listen on. Default 127.0.0.1 (this machine only). */
  readonly host?: string;
  /** Port. Default 0 (any free port). */
  readonly port?: number;
  /** The access token. Default: 24 random bytes, hex. At least 16 characters. */
  readonly token?: string;
  /** A link to a trace, with `{traceId}` in it (Jaeger, Tempo, ...). */
  readonly traceUrl?: string | undefined;
  /** Compensating message types, for the diagram. Default: names with void, release, refund, cancel, compensate, undo, revert. */
  readonly compensation?: RegExp;
  /** How often queue depths are sampled, ms. Default 2000. */
  readonly sampleEveryMs?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** The UI's address, with the token in its fragment. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly catalog: WatchedCatalog;
  close(): Promise<void>;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STATIC: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '/': { file: join(packageRoot, 'web', 'static', 'index.html'), type: 'text/html; charset=utf-8' },
  '/style.css': { file: join(packageRoot, 'web', 'static', 'style.css'), type: 'text/css; charset=utf-8' },
};
/** The compiled front end's modules: `/app.js`, `/views/services.js`, ... (no `..`: the pattern has no dot before the extension). */
const MODULE = /^\/(?:[a-z-]+\/)*[a-z-]+\.js$/;

function staticFile(path: string): { readonly file: string; readonly type: string } | undefined {
  if (MODULE.test(path)) return { file: join(packageRoot, 'dist', 'web', path), type: 'text/javascript; charset=utf-8' };
  return STATIC[path];
}

function numberParam(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(n)) throw new HttpError(400, `${name} must be epoch ms or an ISO time, got "${value}"`);
  return n;
}

/** A whole-number parameter (a count, a sequence number): digits only, else 400. */
function wholeParam(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name);
  if (value === null || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new HttpError(400, `${name} must be a whole number, got "${value}"`);
  return Number(value);
}

const param = (url: URL, name: string): string | undefined => url.searchParams.get(name) || undefined;

/** A path segment, percent-decoded; a malformed escape (`%E0%A4%A`) is the client's mistake. */
function segment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new HttpError(400, `the path segment "${value}" is not valid percent-encoded UTF-8`);
  }
}

/** The request's target as a URL; one that does not parse is the client's mistake. */
function targetOf(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://dashboard');
  } catch {
    throw new HttpError(400, 'the request target is not a URL');
  }
}

/** Starts the dashboard. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const token = options.token ?? randomBytes(24).toString('hex');
  if (token.length < 16) throw new ConfigurationError('the dashboard token must have at least 16 characters');
  const { transport, journal } = options;
  const catalog = await watchCatalog(transport);
  const history = new QueueHistory(() => transport.queues(), options.sampleEveryMs ?? 2000, 150);
  history.start();
  const tails = new Set<ServerResponse>();

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/api/overview') {
      return sendJson(res, 200, { transport: transport.kind, journal: journal !== undefined, traceUrl: options.traceUrl });
    }
    if (method === 'GET' && path === '/api/services') {
      await catalog.ping().catch(() => undefined);
      return sendJson(res, 200, { instances: catalog.instances(), contracts: catalog.contracts() });
    }
    if (method === 'GET' && path === '/api/asyncapi')
      return sendJson(res, 200, asyncApiOf(catalog.instances(), { service: param(url, 'service') }));
    if (method === 'GET' && path === '/api/queues') {
      await history.sample();
      return sendJson(res, 200, { queues: await transport.queues(), history: history.samples() });
    }
    if (method === 'GET' && path === '/api/dead-letters') {
      const filter = {
        endpoint: param(url, 'endpoint'),
        reason: param(url, 'reason'),
        type: param(url, 'type'),
        since: numberParam(url, 'since'),
        until: numberParam(url, 'until'),
      };
      return sendJson(res, 200, await listDeadLetters(transport, filter));
    }
    const letter = /^\/api\/dead-letters\/([^/]+)\/(replay|purge)$/.exec(path);
    if (method === 'POST' && letter !== null) {
      const body = await readJson(req);
      return sendJson(res, 200, await replayOrPurge(transport, letter[2] as 'replay' | 'purge', segment(letter[1]!), body));
    }
    const one = /^\/api\/dead-letters\/([^/]+)\/([^/]+)$/.exec(path);
    if (method === 'GET' && one !== null) return sendJson(res, 200, await showDeadLetter(transport, segment(one[1]!), segment(one[2]!)));
    if (method === 'GET' && path === '/api/conversations') {
      if (journal === undefined)
        throw new HttpError(409, 'no journal: start the dashboard with --journal, and the services with journal()');
      const q = param(url, 'q');
      if (q === undefined) throw new HttpError(400, 'give q: a message id, a correlation id or a business key');
      const started = performance.now();
      const entries = await journal.conversation(q.trim());
      const sequence = sequenceOf(entries, { compensation: options.compensation });
      const svg = svgOf(sequence);
      return sendJson(res, 200, {
        query: q,
        sequence,
        svg,
        mermaid: mermaidOf(sequence),
        entries,
        tookMs: Math.round((performance.now() - started) * 10) / 10,
      });
    }
    if (method === 'GET' && path === '/api/journal') {
      if (journal === undefined) throw new HttpError(409, 'no journal');
      // Whole numbers, not times: a time before 1970 made a negative limit, which SQLite reads as none.
      const limit = Math.min(wholeParam(url, 'limit') ?? 100, 1000);
      return sendJson(res, 200, {
        entries: await journal.recent({ limit, outcome: param(url, 'outcome'), afterSeq: wholeParam(url, 'after') }),
      });
    }
    if (method === 'GET' && path === '/api/tail') {
      const patterns = (url.searchParams.get('pattern') ?? '').split(/[\s,]+/).filter((p) => p !== '');
      tails.add(res);
      try {
        return await tail(transport, patterns, req, res);
      } finally {
        tails.delete(res);
      }
    }
    throw new HttpError(404, `no route ${method} ${path}`);
  };

  const server = createServer((req, res) => {
    const handle = async () => {
      // Inside handle: a request target URL cannot parse (`GET http://[ HTTP/1.1`) is a 400, not
      // an exception thrown out of the request listener, which would end the process.
      const url = targetOf(req);
      if (url.pathname.startsWith('/api/')) {
        const tailing = req.method === 'GET' && url.pathname === '/api/tail';
        if (!authorized(req, url, token, tailing))
          throw new HttpError(401, 'a valid access token is required (printed when the dashboard started)');
        return api(req, res, url);
      }
      const file = staticFile(url.pathname);
      if (req.method !== 'GET' || file === undefined) throw new HttpError(404, 'not found');
      const body = await readFile(file.file).catch(() => {
        throw new HttpError(500, `${url.pathname} is missing: run npm run build`);
      });
      res.writeHead(200, { ...SAFE_HEADERS, 'content-type': file.type, 'content-security-policy': PAGE_POLICY });
      res.end(body);
    };
    handle().catch((error: unknown) => sendError(res, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/#token=${token}`,
    port: address.port,
    token,
    catalog,
    async close() {
      for (const res of tails) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await history.stop();
      await catalog.close();
    },
  };
}
