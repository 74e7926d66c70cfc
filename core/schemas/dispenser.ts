import { z } from 'zod';
import { common, Ident, nonNegative } from './common.js';

// Ranges reject impossible values only. Plausible-but-wrong values (a totaliser that went
// backwards, amount != volume x price) are for the alert rules, never the schema: a
// cheating dispenser must be stored and flagged, not dead-lettered.
export const dispenserTxn = z.object({
  ...common,
  stationId: Ident,
  dispenserId: Ident,
  nozzle: z.number().int().min(1).max(99),
  grade: z.string().min(1).max(16),
  volumeL: nonNegative().max(100_000),
  amountYuan: nonNegative().max(10_000_000),
  unitPrice: nonNegative().max(1_000),
  totalizerL: nonNegative(),
  durationS: nonNegative().optional(),
  pulses: z.number().int().min(0).optional(),
  pulsesPerL: z.number().finite().positive().optional(),
  tankId: Ident.optional(),
});
export type DispenserTxn = z.output<typeof dispenserTxn>;

export const dispenserTank = z.object({
  ...common,
  stationId: Ident,
  tankId: Ident,
  grade: z.string().min(1).max(16),
  volumeL: nonNegative().max(1_000_000),
  tempC: z.number().finite().min(-60).max(100).optional(),
  waterMm: nonNegative().max(10_000).optional(),
});
export type DispenserTank = z.output<typeof dispenserTank>;

export const tamperKinds = ['seal_open', 'board_swap', 'encoder_swap', 'self_lock', 'cover_open', 'param_change'] as const;

export const dispenserTamper = z.object({
  ...common,
  stationId: Ident,
  dispenserId: Ident,
  kind: z.enum(tamperKinds),
});
export type DispenserTamper = z.output<typeof dispenserTamper>;
