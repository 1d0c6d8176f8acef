/** The invoice service: creates invoices (competing consumers if several run) and announces them. */
import { CreateInvoice, InvoiceCreated } from './contracts.js';
import { stopOnSignals } from '@missive/core';
import { invoicingBus } from './bus.js';

const bus = invoicingBus('invoice');
let next = 1000;
bus.endpoint('invoice', (e) =>
  e.on(CreateInvoice, async (cmd, ctx) => {
    const invoiceNumber = `INV-${process.pid}-${++next}`;
    console.log(`invoice: created ${invoiceNumber} for ${cmd.customer}, ${cmd.amountDue.toFixed(2)} due ${cmd.dueDate}`);
    await ctx.publish(InvoiceCreated, {
      requestId: cmd.requestId,
      invoiceNumber,
      customer: cmd.customer,
      amountDue: cmd.amountDue,
      dueDate: cmd.dueDate,
    });
  }),
);
stopOnSignals(bus);
await bus.start();
console.log('ready invoice');
