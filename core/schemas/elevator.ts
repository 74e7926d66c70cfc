import { z } from 'zod';
import { common } from './common.js';

/** GB/T 24476 style codes (docs/domain.md §2): faults 1-15, events 40-47. */
export const faultCodes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] as const;
export const eventCodes = [40, 41, 42, 43, 44, 45, 46, 47] as const;
const knownCodes = new Set<number>([...faultCodes, ...eventCodes]);

export const serviceModes = ['normal', 'inspection', 'fire', 'out_of_service', 'emergency_power'] as const;

export const elevatorStatus = z.object({
  ...common,
  floor: z.number().int().min(-20).max(300),
  doorZone: z.boolean(),
  doorClosed: z.boolean(),
  moving: z.boolean(),
  direction: z.enum(['up', 'down', 'stop']),
  speedMps: z.number().finite().min(0).max(30),
  passengerPresent: z.boolean(),
  serviceMode: z.enum(serviceModes),
  powerOk: z.boolean(),
});
export type ElevatorStatus = z.output<typeof elevatorStatus>;

export const elevatorFault = z.object({
  ...common,
  code: z.number().int().refine((c) => knownCodes.has(c), 'code must be a fault 1-15 or an event 40-47'),
  floor: z.number().int().min(-20).max(300).optional(),
  detail: z.string().max(512).optional(),
});
export type ElevatorFault = z.output<typeof elevatorFault>;
