/** dispenser.tamper (core/rules/dispenser/tamper.ts, docs/rules/dispenser.md): every kind is critical. */
import { describe, expect, it } from 'vitest';
import { raises } from '../helpers.js';
import { tamperKinds } from '../../../../core/schemas/index.js';
import { tamper } from '../../../../core/rules/dispenser/index.js';
import { one, tamperMsg } from './fixtures.js';

describe('dispenser.tamper (any kind, critical)', () => {
  it.each(tamperKinds.map((k) => [k] as const))('%s', (kind) => {
    const r = tamperMsg(kind, 'D7');
    expect(raises(one(tamper, r))).toEqual([expect.objectContaining({
      rule: 'dispenser.tamper', family: 'dispenser', deviceId: 'col-1', condition: `D7/${kind}`, severity: 'critical', evidence: expect.objectContaining({ seqs: [r.seq] }),
    })]);
  });
});
