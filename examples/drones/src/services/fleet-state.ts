/**
 * Fleet management's state, free of the bus and of MQTT: each drone's battery, flight state, last
 * report and reservation, whether it is lost, and its maintenance.
 *
 * Maintenance: a drone is serviced after `maintenanceAfter` completed deliveries, and after a
 * fault (the delivery saga released it for any reason other than a completed delivery or a
 * reservation it did not need: the drone reported a failure, stopped reporting, made no
 * progress). A drone in maintenance is never reserved; it is available again `maintenanceMs`
 * after it went in, when {@link FleetState.tick} says so. The decision is taken when the
 * reservation is cleared, in the same step, so no reservation can slip in between.
 *
 * @example
 * ```ts
 * const fleet = new FleetState({ lostAfterMs: 3000, minBattery: 40, maintenanceAfter: 5, maintenanceMs: 3000 });
 * fleet.telemetry({ droneId: 'd1', seq: 0, battery: 90, state: 'idle' }, now);
 * const droneId = fleet.reserve('delivery-1', [], now);
 * const change = fleet.release('d1', 'delivery-1', 'delivered', now); // maybe { phase: 'started', ... }
 * ```
 * @module
 */

/** The policy of the fleet. */
export interface FleetPolicy {
  /** A drone silent this long is lost. */
  readonly lostAfterMs: number;
  /** Below this battery a drone is not reserved (it charges). */
  readonly minBattery: number;
  /** Completed deliveries between two services (0: never for this reason). */
  readonly maintenanceAfter: number;
  /** How long a service takes. */
  readonly maintenanceMs: number;
}

/** One drone as fleet management sees it. */
export interface Drone {
  readonly id: string;
  battery: number;
  state: 'idle' | 'to-pickup' | 'en-route' | 'charging';
  lastSeen: number;
  lastSeq: number;
  /** The delivery it is reserved for. */
  reservedFor: string | null;
  lost: boolean;
  /** Deliveries completed since its last service. */
  deliveries: number;
  /** While in maintenance: when it went in and why. */
  maintenance: { readonly since: number; readonly reason: string } | null;
}

/** A drone going into maintenance or coming out of it. */
export interface MaintenanceChange {
  readonly droneId: string;
  readonly phase: 'started' | 'done';
  readonly reason: string;
  readonly at: number;
}

/** A telemetry reading (what the fleet keeps of it). */
export interface Reading {
  readonly droneId: string;
  readonly seq: number;
  readonly battery: number;
  readonly state: Drone['state'];
}

/** How many drones are in each state (a drone counts once: lost, maintenance, busy, charging, idle). */
export interface FleetCounts {
  idle: number;
  busy: number;
  charging: number;
  maintenance: number;
  lost: number;
}

/** Reasons of a release that are not faults. */
const ROUTINE = new Set(['delivered', 'not needed']);

/** The fleet: see the module comment. */
export class FleetState {
  readonly drones = new Map<string, Drone>();

  constructor(private readonly policy: FleetPolicy) {}

  /** Takes a reading; repeats and overtaken readings (lower `seq`) change nothing. */
  telemetry(reading: Reading, now: number): void {
    let drone = this.drones.get(reading.droneId);
    if (drone === undefined) {
      drone = {
        id: reading.droneId,
        battery: reading.battery,
        state: reading.state,
        lastSeen: 0,
        lastSeq: -1,
        reservedFor: null,
        lost: false,
        deliveries: 0,
        maintenance: null,
      };
      this.drones.set(reading.droneId, drone);
    }
    if (reading.seq <= drone.lastSeq) return;
    Object.assign(drone, { battery: reading.battery, state: reading.state, lastSeen: now, lastSeq: reading.seq, lost: false });
  }

  /**
   * Reserves the free drone with the most battery for `deliveryId` (the one already reserved for
   * it, if any): idle, seen recently, charged enough, not in maintenance, not excluded. Null when
   * there is none.
   */
  reserve(deliveryId: string, exclude: readonly string[], now: number): string | null {
    const available = (d: Drone) => !d.lost && d.maintenance === null && !exclude.includes(d.id);
    const already = [...this.drones.values()].find((d) => d.reservedFor === deliveryId && available(d));
    if (already !== undefined) return already.id;
    const free = [...this.drones.values()]
      .filter(
        (d) =>
          available(d) &&
          d.reservedFor === null &&
          d.state === 'idle' &&
          d.battery >= this.policy.minBattery &&
          now - d.lastSeen < this.policy.lostAfterMs,
      )
      .sort((a, b) => b.battery - a.battery);
    const pick = free[0];
    if (pick === undefined) return null;
    pick.reservedFor = deliveryId;
    return pick.id;
  }

  /** The drone was dispatched on `deliveryId`. */
  dispatched(droneId: string, deliveryId: string): void {
    const drone = this.drones.get(droneId);
    if (drone !== undefined) drone.reservedFor = deliveryId;
  }

  /**
   * The delivery no longer needs the drone, for `reason`; returns the maintenance it goes into,
   * if any (after its `maintenanceAfter`-th delivery, or after a fault).
   */
  release(droneId: string, deliveryId: string, reason: string, now: number): MaintenanceChange | undefined {
    const drone = this.drones.get(droneId);
    if (drone?.reservedFor !== deliveryId) return undefined;
    drone.reservedFor = null;
    if (drone.maintenance !== null) return undefined;
    let why: string | undefined;
    if (reason === 'delivered') {
      drone.deliveries++;
      if (this.policy.maintenanceAfter > 0 && drone.deliveries >= this.policy.maintenanceAfter)
        why = `after ${drone.deliveries} deliveries`;
    } else if (!ROUTINE.has(reason)) why = `fault: ${reason}`;
    if (why === undefined) return undefined;
    drone.maintenance = { since: now, reason: why };
    return { droneId, phase: 'started', reason: why, at: now };
  }

  /** Drones newly silent past `lostAfterMs` (now marked lost) and services finished (drones available again). */
  tick(now: number): { lost: Drone[]; serviced: MaintenanceChange[] } {
    const lost: Drone[] = [];
    const serviced: MaintenanceChange[] = [];
    for (const d of this.drones.values()) {
      if (d.maintenance !== null && now - d.maintenance.since >= this.policy.maintenanceMs) {
        serviced.push({ droneId: d.id, phase: 'done', reason: d.maintenance.reason, at: now });
        d.maintenance = null;
        d.deliveries = 0;
      }
      if (!d.lost && now - d.lastSeen >= this.policy.lostAfterMs) {
        d.lost = true;
        lost.push(d);
      }
    }
    return { lost, serviced };
  }

  counts(): FleetCounts {
    const counts: FleetCounts = { idle: 0, busy: 0, charging: 0, maintenance: 0, lost: 0 };
    for (const d of this.drones.values()) {
      if (d.lost) counts.lost++;
      else if (d.maintenance !== null) counts.maintenance++;
      else if (d.reservedFor !== null || d.state === 'to-pickup' || d.state === 'en-route') counts.busy++;
      else if (d.state === 'charging' || d.battery < this.policy.minBattery) counts.charging++;
      else counts.idle++;
    }
    return counts;
  }
}
