/**
 * Fleet management's maintenance: after N deliveries or a fault a drone goes into maintenance,
 * is never reserved while in it, and is available again once the service time has passed; and the
 * end-of-run check catches an assignment made during maintenance.
 */
import { describe, expect, it } from 'vitest';
import { checkMaintenance } from '../src/maintenance-check.js';
import type { Maintenance, Seen } from '../src/monitor.js';
import { FleetState } from '../src/services/fleet-state.js';

const policy = { lostAfterMs: 3000, minBattery: 40, maintenanceAfter: 2, maintenanceMs: 1000 };

function fleetOf(...ids: string[]): FleetState {
  const fleet = new FleetState(policy);
  for (const [i, id] of ids.entries()) fleet.telemetry({ droneId: id, seq: 0, battery: 90 - i, state: 'idle' }, 0);
  return fleet;
}

/** Reserves `droneId`'s next delivery and completes it with `reason`; returns the maintenance change. */
function fly(fleet: FleetState, delivery: string, reason: string, now: number) {
  const droneId = fleet.reserve(delivery, [], now);
  if (droneId === null) throw new Error(`no drone for ${delivery}`);
  fleet.dispatched(droneId, delivery);
  return { droneId, change: fleet.release(droneId, delivery, reason, now) };
}

describe('fleet maintenance', () => {
  it('after N deliveries a drone goes into maintenance, is not reserved until it is done, then is available again', () => {
    const fleet = fleetOf('d1');
    expect(fly(fleet, 'a', 'delivered', 10).change).toBeUndefined();
    const second = fly(fleet, 'b', 'delivered', 20);
    expect(second.change).toEqual({ droneId: 'd1', phase: 'started', reason: 'after 2 deliveries', at: 20 });
    expect(fleet.counts()).toMatchObject({ maintenance: 1, idle: 0 });
    expect(fleet.reserve('c', [], 500)).toBeNull(); // idle, charged, seen: but in maintenance
    fleet.telemetry({ droneId: 'd1', seq: 1, battery: 90, state: 'idle' }, 900);
    expect(fleet.tick(900).serviced).toEqual([]);
    expect(fleet.tick(1020).serviced).toEqual([{ droneId: 'd1', phase: 'done', reason: 'after 2 deliveries', at: 1020 }]);
    expect(fleet.reserve('c', [], 1020)).toBe('d1');
    // The count starts again after a service.
    fleet.release('d1', 'c', 'delivered', 1030);
    expect(fleet.counts().maintenance).toBe(0);
  });

  it('a fault sends the drone to maintenance at once; a reservation it did not need does not', () => {
    const fleet = fleetOf('d1', 'd2');
    expect(fly(fleet, 'a', 'not needed', 10).change).toBeUndefined();
    const failed = fly(fleet, 'b', 'drone d1 failed: motor', 20);
    expect(failed.change).toMatchObject({ droneId: 'd1', phase: 'started', reason: 'fault: drone d1 failed: motor' });
    expect(fleet.reserve('c', [], 30)).toBe('d2'); // d1 has more battery, but is in maintenance
  });

  it('a lost drone released by its delivery goes into maintenance and stays out of service when it reports again', () => {
    const fleet = fleetOf('d1');
    expect(fleet.reserve('a', [], 10)).toBe('d1');
    expect(fleet.tick(3000).lost.map((d) => d.id)).toEqual(['d1']);
    expect(fleet.release('d1', 'a', 'drone d1 stopped reporting', 3010)).toMatchObject({ phase: 'started' });
    fleet.telemetry({ droneId: 'd1', seq: 5, battery: 80, state: 'idle' }, 3100);
    expect(fleet.counts()).toMatchObject({ lost: 0, maintenance: 1 });
    expect(fleet.reserve('b', [], 3100)).toBeNull();
  });
});

describe('the maintenance check', () => {
  const seen = (droneId: string, at: number, status = 'assigned'): Seen => ({
    steps: new Map([[1, { status, droneId, at }]]),
    requestedAt: 0,
  });
  const changes: Maintenance[] = [
    { droneId: 'd1', phase: 'started', reason: 'after 2 deliveries', at: 100 },
    { droneId: 'd1', phase: 'done', reason: 'after 2 deliveries', at: 200 },
  ];

  it('passes assignments outside maintenance and reports one inside it', () => {
    expect(
      checkMaintenance(
        new Map([
          ['a', seen('d1', 99)],
          ['b', seen('d1', 200)],
        ]),
        changes,
        2,
      ).problems,
    ).toEqual([]);
    expect(checkMaintenance(new Map([['c', seen('d1', 150)]]), changes, 2).problems).toEqual([
      'c: assigned to d1 while it was in maintenance (after 2 deliveries)',
    ]);
  });

  it('reports a drone that made its deliveries and never went into maintenance', () => {
    const deliveries = new Map([
      ['a', seen('d2', 10, 'delivered')],
      ['b', seen('d2', 20, 'delivered')],
    ]);
    expect(checkMaintenance(deliveries, [], 2).problems).toEqual(['d2 made 2 deliveries and never went into maintenance (due after 2)']);
    expect(checkMaintenance(deliveries, [], 0).problems).toEqual([]);
  });
});
