/**
 * One zod schema per (family, channel): the device contract of docs/protocol.md in code.
 * Ingest validates with these, simulators build messages that pass them, the docs table
 * and the tests are generated from / checked against them.
 */
import type { z } from 'zod';
import { families, type Family } from './common.js';
import { heartbeat } from './heartbeat.js';
import { kitchenViolation } from './kitchen.js';
import { elevatorFault, elevatorStatus } from './elevator.js';
import { cylinderScan } from './cylinder.js';
import { dispenserTank, dispenserTamper, dispenserTxn } from './dispenser.js';

export * from './common.js';
export * from './heartbeat.js';
export * from './kitchen.js';
export * from './elevator.js';
export * from './cylinder.js';
export * from './dispenser.js';
export * from './error.js';

/** Device -> platform channels per family (docs/protocol.md, Topics). */
export const channelSchemas = {
  kitchen: { heartbeat, violation: kitchenViolation },
  elevator: { heartbeat, status: elevatorStatus, fault: elevatorFault },
  cylinder: { heartbeat, scan: cylinderScan },
  dispenser: { heartbeat, txn: dispenserTxn, tank: dispenserTank, tamper: dispenserTamper },
} as const satisfies Record<Family, Record<string, z.ZodType>>;

export type ChannelOf<F extends Family> = keyof (typeof channelSchemas)[F] & string;
export type AnyChannel = { [F in Family]: ChannelOf<F> }[Family];
export type ChannelKey = { [F in Family]: `${F}/${ChannelOf<F>}` }[Family];

/** Platform -> device channels a device may subscribe to, per family. */
export const replyChannels: Record<Family, readonly string[]> = {
  kitchen: ['error'],
  elevator: ['error'],
  cylinder: ['error', 'scan/reply'],
  dispenser: ['error'],
};

export function isFamily(s: string): s is Family {
  return (families as readonly string[]).includes(s);
}

/** The schema for a (family, channel), or undefined when the family has no such channel. */
export function schemaFor(family: Family, channel: string): z.ZodType | undefined {
  const perFamily = channelSchemas[family] as Record<string, z.ZodType>;
  return Object.hasOwn(perFamily, channel) ? perFamily[channel] : undefined;
}

/** Every (family, channel) pair, in a stable order. */
export const channelList: ReadonlyArray<{ family: Family; channel: string; key: string }> = families.flatMap(
  (family) => Object.keys(channelSchemas[family]).map((channel) => ({ family, channel, key: `${family}/${channel}` })),
);
