/**
 * The drone delivery system's message contracts: the language its services share. Each service
 * imports only these, `@missive/core` and the packages it builds on.
 */
import { defineCommand, defineEvent, defineQuery } from '@missive/core';
import { z } from 'zod';

const byDelivery = (m: { deliveryId: string }) => m.deliveryId;
const Place = z.object({ lat: z.number(), lon: z.number() });

/** The scheduler accepted a delivery request. Starts the delivery saga. */
export const DeliveryRequested = defineEvent(
  'drones.delivery-requested',
  z.object({ deliveryId: z.string(), from: Place, to: Place, requestedAt: z.number() }),
  { partitionKey: byDelivery },
);
/** The delivery needs a drone (first time, or after a failed attempt): the scheduler picks one. */
export const DeliveryNeedsDrone = defineEvent(
  'drones.delivery-needs-drone',
  z.object({ deliveryId: z.string(), exclude: z.array(z.string()) }),
  { partitionKey: byDelivery },
);
/** The scheduler chose a drone for the delivery. */
export const AssignDrone = defineCommand('delivery.assign-drone', z.object({ deliveryId: z.string(), droneId: z.string() }), {
  partitionKey: byDelivery,
});
/** Every step of a delivery, in order (`seq` 1, 2, …), as the saga decided it. History is built from these. */
export const DeliveryUpdated = defineEvent(
  'drones.delivery-updated',
  z.object({
    deliveryId: z.string(),
    seq: z.number().int().positive(),
    status: z.enum(['requested', 'assigned', 'picked-up', 'en-route', 'delivered', 'reassigning', 'failed']),
    droneId: z.string().optional(),
    reason: z.string().optional(),
    at: z.number(),
  }),
  { partitionKey: byDelivery },
);
/** History recorded a delivery's final state (published by the history projection). */
export const DeliveryArchived = defineEvent(
  'drones.delivery-archived',
  z.object({ deliveryId: z.string(), status: z.enum(['delivered', 'failed']), events: z.number().int() }),
  { partitionKey: byDelivery },
);

/** Fleet management: reserve an available drone for a delivery. */
export const ReserveDrone = defineQuery(
  'fleet.reserve-drone',
  z.object({ deliveryId: z.string(), exclude: z.array(z.string()) }),
  z.object({ droneId: z.string().nullable() }),
);
/** Fleet management: send the drone on its way (over MQTT). */
export const DispatchDrone = defineCommand(
  'fleet.dispatch-drone',
  z.object({ droneId: z.string(), deliveryId: z.string(), from: Place, to: Place }),
);
/** Fleet management: the drone is no longer on this delivery. */
export const ReleaseDrone = defineCommand(
  'fleet.release-drone',
  z.object({ droneId: z.string(), deliveryId: z.string(), reason: z.string() }),
);
/** A drone stopped reporting (telemetry timeout); `deliveryId` is what it was reserved for. */
export const DroneLost = defineEvent(
  'fleet.drone-lost',
  z.object({ droneId: z.string(), deliveryId: z.string().nullable(), silentMs: z.number() }),
);

/** A drone went into maintenance (after N deliveries, or a fault) or came out of it; while in it, it is never reserved. */
export const DroneMaintenance = defineEvent(
  'fleet.drone-maintenance',
  z.object({ droneId: z.string(), phase: z.enum(['started', 'done']), reason: z.string(), at: z.number() }),
);

/** Telemetry from a drone, as the MQTT bridge puts it on the bus. */
export const DroneTelemetry = defineEvent(
  'drones.telemetry',
  z.object({
    droneId: z.string(),
    seq: z.number().int().nonnegative(),
    battery: z.number().min(0).max(100),
    state: z.enum(['idle', 'to-pickup', 'en-route', 'charging']),
    lat: z.number(),
    lon: z.number(),
    deliveryId: z.string().nullable(),
    at: z.number(),
  }),
);
/** A drone's report of a delivery step, from MQTT. */
export const DroneReported = defineEvent(
  'drones.drone-reported',
  z.object({
    droneId: z.string(),
    deliveryId: z.string(),
    kind: z.enum(['picked-up', 'en-route', 'delivered', 'failed']),
    reason: z.string().optional(),
    at: z.number(),
  }),
  { partitionKey: byDelivery },
);

/** Fleet management's view, twice a second: what the terminal view shows. */
export const FleetStatus = defineEvent(
  'fleet.status',
  z.object({
    idle: z.number(),
    busy: z.number(),
    charging: z.number(),
    maintenance: z.number(),
    lost: z.number(),
    unseen: z.number(),
    telemetryPerSecond: z.number(),
    lagP50Ms: z.number(),
    lagMaxMs: z.number(),
    telemetryTotal: z.number(),
    rejected: z.number(),
  }),
);

/** History: one delivery's events, from its stream. */
export const GetDeliveryHistory = defineQuery(
  'history.get-delivery',
  z.object({ deliveryId: z.string() }),
  z.object({
    deliveryId: z.string(),
    version: z.number(),
    status: z.string(),
    /** Steps that arrived after a gap, held until the missing step comes. */
    held: z.array(z.number()).optional(),
    events: z.array(z.object({ type: z.string(), seq: z.number(), droneId: z.string().optional(), reason: z.string().optional() })),
  }),
);
/** History: the read model (the projection's table): final status and number of events per delivery. */
export const GetHistorySummary = defineQuery(
  'history.get-summary',
  z.object({}),
  z.object({ deliveries: z.array(z.object({ deliveryId: z.string(), status: z.string(), events: z.number() })) }),
);

/** Every service's counters, twice a second, for the terminal view and the check. */
export const ServiceStats = defineEvent(
  'drones.service-stats',
  z.object({ service: z.string(), handled: z.number(), retried: z.number(), redelivered: z.number(), deadLettered: z.number() }),
);
