/** Shared plumbing of the licensing example's processes. */
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { consoleLogger, createBus, type Bus } from '@missive/core';

export function dataDir(): string {
  const dir = process.env.LICENSING_DATA_DIR ?? join(process.cwd(), '.missive', 'licensing');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function licensingBus(service: string): Bus {
  return createBus({
    service,
    transport: process.env.MISSIVE_URL ?? `sqlite://${join(dataDir(), 'bus.db')}`,
    logger: consoleLogger('error'),
    requestTimeoutMs: 2000,
  });
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
}

export function send(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
