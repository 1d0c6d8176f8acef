/** The payment service: a downstream consumer that reacts to every new invoice. */
import { InvoiceCreated } from './contracts.js';
import { stopOnSignals } from '@missive/core';
import { invoicingBus } from './bus.js';

const bus = invoicingBus('payment');
bus.endpoint('invoicing-payment', (e) =>
  e.on(InvoiceCreated, (invoice) => {
    console.log(`payment: scheduled collection of ${invoice.amountDue.toFixed(2)} for ${invoice.invoiceNumber}`);
  }),
);
stopOnSignals(bus);
await bus.start();
console.log('ready payment');
