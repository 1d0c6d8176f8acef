/** Invoicing end to end, as real processes: the client prints its invoice number; payment receives the same event. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { startProcess } from '@missive/testing';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

it('the client asks for an invoice and prints its number; payment gets the event too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'missive-invoicing-'));
  const env = { INVOICING_DATA_DIR: dir };
  const invoice = startProcess(process.execPath, [join(dist, 'invoice-service.js')], { env });
  const payment = startProcess(process.execPath, [join(dist, 'payment-service.js')], { env });
  try {
    await Promise.all([invoice.waitFor(/^ready invoice/), payment.waitFor(/^ready payment/)]);
    const client = startProcess(process.execPath, [join(dist, 'client.js'), 'ACME Corp', '105.50'], { env });
    const [, number] = await client.waitFor(/^client: invoice number (INV-\d+-\d+)$/);
    expect(await client.exited).toBe(0);
    await payment.waitFor(new RegExp(`^payment: scheduled collection of 105\\.50 for ${number}$`));
    await invoice.waitFor(new RegExp(`^invoice: created ${number} for ACME Corp`));
  } finally {
    invoice.kill();
    payment.kill();
    await Promise.all([invoice.exited, payment.exited]);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
