/** The live statistics of /ws: today's counts (CST day), open alerts and the domain panels. */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../core/alerts/alert.js';
import { deadlinesFor, defaultDeadlinePolicy } from '../../core/alerts/deadlines.js';
import { openRescueCase } from '../../core/alerts/rescueCase.js';
import { dayStart, TodayCounter } from '../../dashboard/ws/stats.js';

const at = (iso: string) => Date.parse(iso);
function alert(id: string, over: Partial<Alert> & { firstSeen: number }): Alert {
  return {
    id, family: 'kitchen', rule: 'kitchen.violation', condition: 'rat', severity: 'critical', status: 'open', summary: '', params: {},
    device: { id: 'd', name: null, district: null, location: null, meta: {} }, evidence: [], assignee: null, count: 1,
    lastSeen: over.firstSeen, windowMs: 0, deadlines: deadlinesFor('critical', over.firstSeen, defaultDeadlinePolicy), events: 1, notes: 0, updatedAt: over.firstSeen,
    ...over,
  };
}

describe('live stats', () => {
  it('days start at midnight China Standard Time', () => {
    expect(dayStart(at('2026-11-23T15:59:59Z'))).toBe(at('2026-11-23T00:00:00+08:00'));
    expect(dayStart(at('2026-11-23T16:00:00Z'))).toBe(at('2026-11-24T00:00:00+08:00'));
  });

  it('counts today per family and the domain panels; yesterday drops out at midnight', () => {
    const c = new TodayCounter();
    const now = at('2026-11-24T10:00:00+08:00');
    const rat = alert('a1', { firstSeen: at('2026-11-24T08:00:00+08:00'), count: 3 });
    const mask = alert('a2', { firstSeen: at('2026-11-24T09:00:00+08:00'), condition: 'no_mask', severity: 'minor', status: 'resolved' });
    const refused = alert('a3', { firstSeen: at('2026-11-24T09:30:00+08:00'), family: 'cylinder', rule: 'cylinder.refused', condition: 'X|scrapped', count: 2 });
    const tamper = alert('a4', { firstSeen: at('2026-11-23T23:00:00+08:00'), family: 'dispenser', rule: 'dispenser.tamper', condition: 'D-1/seal_open' });
    for (const a of [rat, mask, refused, tamper]) c.see(a, now);
    const info = { maintenanceUnit: null, arrivalWithinMs: 1_800_000, district: null, source: 'device', by: 'system' } as const;
    const cases = [openRescueCase('c1', 'e1', 'a9', now - 60_000, info), openRescueCase('c2', 'e1', 'a8', now, info)];
    const s = c.snapshot(now, [rat, refused, tamper], cases, 10, 7);
    expect(s).toMatchObject({
      dayStart: at('2026-11-24T00:00:00+08:00'),
      today: { kitchen: 2, elevator: 0, cylinder: 1, dispenser: 0 },
      open: 3, openByFamily: { kitchen: 1, cylinder: 1, dispenser: 1 }, openBySeverity: { critical: 3 },
      devices: 10, connectedDevices: 7,
      kitchenViolationsByType: { rat: 3, no_mask: 1 }, trappedNow: 1, cylinderRefusalsToday: 2, dispenserAnomalies: { 'dispenser.tamper': 1 },
    });
    const tomorrow = c.snapshot(at('2026-11-25T00:00:01+08:00'), [], [], 10, 7);
    expect(tomorrow.today).toEqual({ kitchen: 0, elevator: 0, cylinder: 0, dispenser: 0 });
    expect(tomorrow.kitchenViolationsByType).toEqual({});
  });
});
