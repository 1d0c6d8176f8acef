/**
 * A small HTTP server (node:http, no framework) for probes and scrapers: `GET /healthz` (liveness),
 * `GET /readyz` (readiness, with the reasons) answer 200 or 503 with the report as JSON, and
 * `GET /metrics` is handed to the metrics handler given (the Prometheus handler of
 * `@missive/otel`), or answers 404 without one.
 *
 * @example
 * ```ts
 * const server = await serveHealth(bus, { port: 9464, metrics: telemetry.metrics });
 * console.log(server.url); // http://127.0.0.1:9464/
 * await server.close();
 * ```
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from './health.js';

/** What the server asks of the bus. */
export interface HealthSource {
  health(): HealthReport;
}

/** Options of {@link serveHealth}. */
export interface HealthServerOptions {
  /** Port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Interface. Default `127.0.0.1`; `0.0.0.0` for a container. */
  readonly host?: string;
  /** Answers `GET /metrics`. */
  readonly metrics?: (request: IncomingMessage, response: ServerResponse) => void;
}

/** A running health server. */
export interface HealthServer {
  readonly port: number;
  /** `http://host:port/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function serveHealth(source: HealthSource, options: HealthServerOptions = {}): Promise<HealthServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { error: 'GET only' });
    try {
      if (path === '/healthz' || path === '/readyz') {
        const report = source.health();
        const ok = path === '/healthz' ? report.live : report.ready;
        return send(response, ok ? 200 : 503, report);
      }
      if (path === '/metrics' && options.metrics !== undefined) return options.metrics(request, response);
      send(response, 404, { error: `GET /healthz, /readyz${options.metrics === undefined ? '' : ' or /metrics'}` });
    } catch (error) {
      send(response, 500, { error: (error as Error).message });
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(`${JSON.stringify(body)}\n`);
}
