/**
 * A small OTLP/HTTP (JSON) receiver for tests: services export to it as to any collector, and the
 * test reads the spans back, with the `service.name` of the process that made each.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One received span. */
export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly status: number;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** Base URL, for `--otlp`. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Metric export requests received. */
  readonly metricExports: () => number;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: KeyValue[];
  status?: { code?: number };
}
interface TraceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

const valueOf = (v: AnyValue): unknown =>
  v.stringValue ?? (v.intValue === undefined ? undefined : Number(v.intValue)) ?? v.doubleValue ?? v.boolValue;
const attributes = (list: KeyValue[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, valueOf(kv.value)]));
/** OTLP/JSON ids are hex; accept base64 too. */
const id = (text: string | undefined, bytes: number): string | undefined => {
  if (text === undefined || text === '') return undefined;
  if (text.length === bytes * 2) return text.toLowerCase();
  return Buffer.from(text, 'base64').toString('hex');
};

/** Starts a receiver on a free loopback port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const seen = new Set<string>();
  let metricExports = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        if (req.url === '/v1/traces') {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TraceRequest;
          for (const rs of body.resourceSpans ?? []) {
            const service = String(attributes(rs.resource?.attributes)['service.name']);
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                // An exporter sends a batch again when its request timed out (OTLP export is at least
                // once): a span already received is not counted twice.
                const spanId = id(s.spanId, 8)!;
                if (seen.has(spanId)) continue;
                seen.add(spanId);
                spans.push({
                  service,
                  traceId: id(s.traceId, 16)!,
                  spanId,
                  parentSpanId: id(s.parentSpanId, 8),
                  name: s.name,
                  kind: s.kind,
                  attributes: attributes(s.attributes),
                  status: s.status?.code ?? 0,
                });
              }
            }
          }
        } else if (req.url === '/v1/metrics') {
          metricExports++;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      } catch (error) {
        res.writeHead(400);
        res.end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metricExports: () => metricExports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
