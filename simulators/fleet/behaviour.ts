/**
 * Device behaviour, one generator per family. Each is a pure function of (state, rng, now):
 * it returns the next state and the messages to publish (channel + payload, exactly
 * docs/protocol.md and the ingest zod schemas). No sockets, no clock, no globals: the runner owns
 * those, tests drive these directly (test/simulators/behaviour.test.ts).
 *
 * Times are platform epoch ms. Every interval is given in "scenario time" and divided by the
 * state's `timeScale`, so a compressed run keeps the same shape, only faster.
 *
 * One file a family (kitchen.ts, elevator.ts, cylinder.ts, dispenser.ts) over what they share
 * (messages.ts); this module is their one entry, and steps any device.
 */
import type { Family } from '../../core/schemas/index.js';
import { stepCylinder, type CylinderState } from './cylinder.js';
import { stepDispenser, type DispenserState } from './dispenser.js';
import { stepElevator, type ElevatorState } from './elevator.js';
import { stepKitchen, type KitchenState } from './kitchen.js';
import type { Step } from './messages.js';
import type { Rng } from './rng.js';

export type { OutMsg, Step } from './messages.js';
export * from './kitchen.js';
export * from './elevator.js';
export * from './cylinder.js';
export * from './dispenser.js';

export type DeviceState = KitchenState | ElevatorState | CylinderState | DispenserState;

/** One step of any device. */
export function stepDevice(state: DeviceState, rng: Rng, now: number): Step<DeviceState> {
  switch (state.family) {
    case 'kitchen': return stepKitchen(state, rng, now);
    case 'elevator': return stepElevator(state, rng, now);
    case 'cylinder': return stepCylinder(state, rng, now);
    case 'dispenser': return stepDispenser(state, rng, now);
  }
}

export function topicOf(family: Family, id: string, channel: string): string {
  return `${family}/${id}/${channel}`;
}
