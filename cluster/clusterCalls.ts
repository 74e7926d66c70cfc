/**
 * What a cluster node answers to the others (cluster/nodeCalls.ts), all of it on its slot
 * engines (cluster/slotEngines.ts): operators' actions on the alerts and cases its slots hold,
 * a phone trapping and a black-list step for the keys it owns, store scores, and device
 * connection events for its keys (docs/cluster.md, Operators' actions).
 *
 * An action names the slot the record was saved under (null: not saved yet, or by a single
 * node); the node answers `notHere` when it does not hold that slot (it moved meanwhile) or,
 * for a record not saved yet, when none of its slot engines has it, and the caller asks on.
 * The arguments come from another node: their shape is checked here, their meaning by the
 * same pure core as on a single node (refusals, limits).
 */
import { z } from 'zod';
import { CodedError } from '../core/codes.js';
import type { SlotEngine } from './slotEngine.js';
import type { SlotEngines } from './slotEngines.js';

export interface NotHere {
  notHere: true;
}

const NOT_HERE: NotHere = { notHere: true };

const text = z.string().max(100_000);
const obj = z.record(z.string(), z.unknown());
/** An action: the slot its record was saved under, and the AlertService method's arguments. */
const routed = <A extends z.ZodTypeAny>(args: A) => z.strictObject({ slot: z.number().int().min(0).max(65535).nullable(), args });

const shapes = {
  'alert.act': routed(z.tuple([text, z.enum(['ack', 'resolve', 'assign', 'note', 'false_positive']), text]).rest(obj)),
  'alert.rectify': routed(z.tuple([text, z.enum(['answer', 'recheck_passed', 'recheck_failed']), text, text])),
  'case.step': routed(z.tuple([text, text, text]).rest(obj)),
  'case.ackEscalation': routed(z.tuple([text, z.number().int(), text])),
  'case.phone': z.tuple([text, obj, text]),
  'store.advance': z.tuple([text, z.enum(['notified', 'rectified', 'rechecked', 'lifted']), text, text]),
  'store.scores': z.strictObject({ storeIds: z.array(text).max(100_000) }),
  'device.connection': z.strictObject({ deviceId: text, connected: z.boolean() }),
} as const;

export type NodeMethod = keyof typeof shapes;

function parse<M extends NodeMethod>(method: M, input: unknown): z.infer<(typeof shapes)[M]> {
  const r = shapes[method].safeParse(input);
  if (!r.success) throw new CodedError('validation', `${method} from another node: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as z.infer<(typeof shapes)[M]>;
}

/** The engine holding the record: that of its saved slot, else the one whose book has it active. */
function holder(engines: SlotEngines, slot: number | null, find: (e: SlotEngine) => boolean): SlotEngine | null {
  return slot !== null ? engines.engineOf(slot) : engines.find(find);
}

/** This node's answers, by method. */
export function nodeHandlers(engines: SlotEngines): Record<NodeMethod, (input: unknown) => Promise<unknown>> {
  const hasAlert = (id: string) => (e: SlotEngine) => e.hasAlert(id);
  const hasCase = (id: string) => (e: SlotEngine) => e.hasCase(id);
  return {
    'alert.act': async (input) => {
      const { slot, args: [id, action, by, opts] } = parse('alert.act', input);
      return holder(engines, slot, hasAlert(id))?.act(id, action, by, opts as { note?: string; assignee?: string }) ?? NOT_HERE;
    },
    'alert.rectify': async (input) => {
      const { slot, args: [id, kind, by, note] } = parse('alert.rectify', input);
      return holder(engines, slot, hasAlert(id))?.rectify(id, kind, by, note) ?? NOT_HERE;
    },
    'case.step': async (input) => {
      const { slot, args: [id, step, by, opts] } = parse('case.step', input);
      return holder(engines, slot, hasCase(id))?.recordRescueStep(id, step as Parameters<SlotEngine['recordRescueStep']>[1], by, opts as Parameters<SlotEngine['recordRescueStep']>[3]) ?? NOT_HERE;
    },
    'case.ackEscalation': async (input) => {
      const { slot, args: [id, level, by] } = parse('case.ackEscalation', input);
      return holder(engines, slot, hasCase(id))?.acknowledgeEscalation(id, level, by) ?? NOT_HERE;
    },
    'case.phone': async (input) => {
      const [elevatorId, report, by] = parse('case.phone', input);
      return engines.engineOfKey(elevatorId)?.reportTrapping(elevatorId, report as Parameters<SlotEngine['reportTrapping']>[1], by) ?? notHolding(elevatorId);
    },
    'store.advance': async (input) => {
      const [storeId, stage, by, note] = parse('store.advance', input);
      return engines.engineOfKey(storeId)?.advanceStore(storeId, stage, by, note) ?? notHolding(storeId);
    },
    'store.scores': async (input) => engines.storeScores(parse('store.scores', input).storeIds),
    'device.connection': async (input) => {
      const { deviceId, connected } = parse('device.connection', input);
      engines.connection(deviceId, connected);
      return null;
    },
  };
}

/** The key's slot moved away between the caller's look and the call: the caller says try again. */
function notHolding(key: string): never {
  throw new CodedError('node_unreachable', `this node no longer holds the rules of ${key} (a hand-over); try again`);
}
