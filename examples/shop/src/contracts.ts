/**
 * The shop's message contracts: the language its services share. Each service imports only these
 * and `@missive/core`.
 */
import { defineCommand, defineEvent, defineQuery } from '@missive/core';
import { z } from 'zod';

const OrderRef = z.object({ orderId: z.string() });
const Line = z.object({ orderId: z.string(), sku: z.string(), qty: z.number().int().positive() });

/** The gateway accepted an order. Starts the order saga. */
export const OrderPlaced = defineEvent(
  'shop.order-placed',
  z.object({ orderId: z.string(), sku: z.string(), qty: z.number().int().positive(), amount: z.number().positive(), placedAt: z.number() }),
  {
    partitionKey: (m) => m.orderId,
  },
);
export const OrderConfirmed = defineEvent(
  'shop.order-confirmed',
  z.object({ orderId: z.string(), amount: z.number(), placedAt: z.number() }),
);
export const OrderCancelled = defineEvent(
  'shop.order-cancelled',
  z.object({ orderId: z.string(), reason: z.string(), placedAt: z.number() }),
);

export const ReserveStock = defineCommand('inventory.reserve-stock', Line);
export const ReleaseStock = defineCommand('inventory.release-stock', Line);
export const StockReserved = defineEvent('inventory.stock-reserved', OrderRef);
export const StockUnavailable = defineEvent('inventory.stock-unavailable', OrderRef);

export const ChargePayment = defineCommand('payment.charge-payment', z.object({ orderId: z.string(), amount: z.number().positive() }));
/** Compensation: refunds the order's charge if there is one, and refuses any later charge for it. */
export const VoidPayment = defineCommand('payment.void-payment', z.object({ orderId: z.string() }));
export const PaymentCharged = defineEvent('payment.payment-charged', z.object({ orderId: z.string(), amount: z.number() }));
export const PaymentDeclined = defineEvent('payment.payment-declined', z.object({ orderId: z.string(), reason: z.string() }));

export const GetOrderStatus = defineQuery(
  'shop.get-order-status',
  OrderRef,
  z.object({ orderId: z.string(), status: z.string(), reason: z.string().optional() }),
);

/** Each service reports its bus counters every half second; `npm start` shows them. */
export const ServiceStats = defineEvent(
  'shop.service-stats',
  z.object({
    service: z.string(),
    instance: z.string(),
    handled: z.number(),
    retried: z.number(),
    redelivered: z.number(),
    deadLettered: z.number(),
  }),
);
