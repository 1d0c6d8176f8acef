/**
 * The test client: asks for an invoice, waits for InvoiceCreated on its own queue (an independent
 * consumer next to payment), prints the invoice number and exits.
 *   node dist/client.js [customer] [amount]
 */
import { randomUUID } from 'node:crypto';
import { CreateInvoice, InvoiceCreated } from './contracts.js';
import { invoicingBus } from './bus.js';

const requestId = randomUUID();
const customer = process.argv[2] ?? 'ACME Corp';
const amountDue = Number(process.argv[3] ?? 105.5);
const endpoint = `invoicing-client-${requestId.slice(0, 8)}`;
const bus = invoicingBus('client');
const created = new Promise<string>((resolve) => {
  bus.endpoint(endpoint, (e) =>
    e.on(InvoiceCreated, (invoice) => {
      if (invoice.requestId === requestId) resolve(invoice.invoiceNumber);
    }),
  );
});
await bus.start();
const dueDate = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
await bus.send(CreateInvoice, { requestId, customer, amountDue, dueDate });
const timeout = setTimeout(() => {
  console.error('client: no invoice within 15 s');
  process.exit(1);
}, 15_000);
const invoiceNumber = await created;
clearTimeout(timeout);
console.log(`client: invoice number ${invoiceNumber}`);
await bus.transport.deleteQueue(endpoint);
await bus.stop();
