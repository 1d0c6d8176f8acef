/** The invoicing contracts. */
import { defineCommand, defineEvent } from '@missive/core';
import { z } from 'zod';

/** The client asks for an invoice. */
export const CreateInvoice = defineCommand(
  'invoicing.create-invoice',
  z.object({
    requestId: z.string(),
    customer: z.string().min(1),
    amountDue: z.number().positive(),
    dueDate: z.string(),
  }),
);

/** The invoice service created one: payment and the client both receive it. */
export const InvoiceCreated = defineEvent(
  'invoicing.invoice-created',
  z.object({
    requestId: z.string(),
    invoiceNumber: z.string(),
    customer: z.string(),
    amountDue: z.number(),
    dueDate: z.string(),
  }),
);
