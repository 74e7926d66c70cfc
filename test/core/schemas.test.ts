/**
 * The device contract of docs/protocol.md as zod schemas (core/schemas): every example
 * validates, and tables of valid / invalid payloads per channel pin each field's type,
 * range edges (just under / at / just over), enums and required-ness.
 */
import { describe, expect, it } from 'vitest';
import {
  channelList, cylinderScanReply, eventCodes, faultCodes, families, scanPoints, scanReasons, schemaFor, serviceModes, tamperKinds,
  violationTypes, type Family,
} from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';

const TS = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const DEL = Symbol('delete');
type Patch = Record<string, unknown>;

function example(family: Family, channel: string): Record<string, unknown> {
  return examplePayload(family, channel, 'm-1', TS);
}

function withPatch(base: Record<string, unknown>, patch: Patch): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === DEL) delete out[k]; else out[k] = v;
  }
  return out;
}

function parse(family: Family, channel: string, payload: unknown) {
  const schema = schemaFor(family, channel);
  if (!schema) throw new Error(`no schema for ${family}/${channel}`);
  return schema.safeParse(payload);
}

function issuePaths(r: ReturnType<typeof parse>): string[] {
  return r.success ? [] : r.error.issues.map((i) => i.path.map(String).join('.'));
}

const s = (n: number): string => 'x'.repeat(n);

describe('channel list', () => {
  it('has exactly the (family, channel) pairs of docs/protocol.md', () => {
    expect(channelList.map((c) => c.key).sort()).toEqual([
      'cylinder/heartbeat', 'cylinder/scan',
      'dispenser/heartbeat', 'dispenser/tamper', 'dispenser/tank', 'dispenser/txn',
      'elevator/fault', 'elevator/heartbeat', 'elevator/status',
      'kitchen/heartbeat', 'kitchen/violation',
    ]);
    for (const c of channelList) expect(c.key).toBe(`${c.family}/${c.channel}`);
  });

  it.each([
    ['kitchen', 'error'], ['cylinder', 'scan/reply'], ['kitchen', 'status'], ['elevator', 'violation'], ['dispenser', 'scan'],
    ['kitchen', 'toString'], ['kitchen', '__proto__'], ['kitchen', 'constructor'], ['kitchen', 'hasOwnProperty'], ['kitchen', ''],
  ] as const)('schemaFor(%s, %s) is undefined (no device -> platform channel)', (family, channel) => {
    expect(schemaFor(family, channel)).toBeUndefined();
  });

  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('example of %s validates', (_key, family, channel) => {
    const r = parse(family, channel, example(family, channel));
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
    expect((r.data as { ts: number }).ts).toBe(TS);
    expect((r.data as { msgId: string }).msgId).toBe('m-1');
  });

  it('every family has a heartbeat whose optional fields may all be absent', () => {
    for (const family of families) expect(parse(family, 'heartbeat', { msgId: 'h', ts: TS }).success).toBe(true);
  });
});

describe('common fields on every channel', () => {
  // [description, value, valid, expected normalised ms when valid, message fragment when invalid]
  const tsRows: Array<[string, unknown, boolean, number | null, string | null]> = [
    ['RFC 3339 with +08:00 offset', '2026-11-23T08:00:00+08:00', true, Date.UTC(2026, 10, 23, 0, 0, 0), null],
    ['RFC 3339 with Z', '2026-11-23T08:00:00Z', true, Date.UTC(2026, 10, 23, 8, 0, 0), null],
    ['RFC 3339 with fraction and negative offset', '2026-11-23T08:00:00.250-05:30', true, Date.UTC(2026, 10, 23, 13, 30, 0, 250), null],
    ['local time without offset', '2026-11-23T08:00:00', false, null, null],
    ['date only', '2026-11-23', false, null, null],
    ['offset without colon', '2026-11-23T08:00:00+0800', false, null, null],
    ['space instead of T', '2026-11-23 08:00:00Z', false, null, null],
    ['impossible date', '2026-02-30T00:00:00Z', false, null, null],
    ['RFC 3339 before 2000', '1999-12-31T23:59:59Z', false, null, 'out of range'],
    ['epoch ms', 1_700_000_000_123, true, 1_700_000_000_123, null],
    ['epoch ms at lower bound (2000-01-01)', Date.UTC(2000, 0, 1), true, Date.UTC(2000, 0, 1), null],
    ['epoch ms just under lower bound', Date.UTC(2000, 0, 1) - 1, false, null, 'out of range'],
    ['epoch ms just under upper bound', Date.UTC(2100, 0, 1) - 1, true, Date.UTC(2100, 0, 1) - 1, null],
    ['epoch ms at upper bound (2100-01-01)', Date.UTC(2100, 0, 1), false, null, 'out of range'],
    ['epoch seconds', 1_700_000_000, false, null, 'epoch seconds'],
    ['fractional epoch ms', 1_700_000_000_000.5, false, null, null],
    ['epoch ms as a string', '1700000000000', false, null, null],
    ['zero', 0, false, null, 'out of range'],
    ['negative', -1, false, null, null],
    ['Infinity', Infinity, false, null, null],
    ['NaN', NaN, false, null, null],
    ['null', null, false, null, null],
    ['boolean', true, false, null, null],
  ];

  describe.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s', (_key, family, channel) => {
    it.each(tsRows)('ts: %s', (_d, value, valid, ms, fragment) => {
      const r = parse(family, channel, withPatch(example(family, channel), { ts: value }));
      expect(r.success).toBe(valid);
      if (valid) expect((r.data as { ts: number }).ts).toBe(ms);
      else {
        expect(issuePaths(r)).toContain('ts');
        if (fragment) expect(r.error!.issues.map((i) => i.message).join(' ')).toContain(fragment);
      }
    });

    it('epoch seconds gets the hint, milliseconds out of range do not', () => {
      const sec = parse(family, channel, withPatch(example(family, channel), { ts: 1_700_000_000 }));
      expect(sec.error!.issues[0]!.message).toMatch(/epoch seconds; send milliseconds/);
      const far = parse(family, channel, withPatch(example(family, channel), { ts: Date.UTC(2100, 0, 1) }));
      expect(far.error!.issues[0]!.message).not.toMatch(/epoch seconds/);
    });

    it.each([
      ['empty', '', false], ['1 char', 'a', true], ['64 chars', s(64), true], ['65 chars', s(65), false],
      ['number', 5, false], ['null', null, false], ['missing', DEL, false],
    ] as const)('msgId: %s', (_d, value, valid) => {
      const r = parse(family, channel, withPatch(example(family, channel), { msgId: value }));
      expect(r.success).toBe(valid);
      if (!valid) expect(issuePaths(r)).toContain('msgId');
    });

    it('ts missing is invalid', () => {
      expect(issuePaths(parse(family, channel, withPatch(example(family, channel), { ts: DEL })))).toContain('ts');
    });

    it.each([['array', []], ['null', null], ['string', 'x'], ['number', 1]] as const)('a non-object (%s) is invalid', (_d, value) => {
      expect(parse(family, channel, value).success).toBe(false);
    });
  });
});

// Per-channel tables: [description, patch over the example, valid]
type Row = [string, Patch, boolean];
const titled = (rows: Row[]): Row[] => rows.map(([d, p, v]) => [`${d} -> ${v ? 'valid' : 'invalid'}`, p, v]);

const identRows = (field: string, required: boolean): Row[] => [
  [`${field} empty`, { [field]: '' }, false],
  [`${field} 1 char`, { [field]: 'a' }, true],
  [`${field} 64 chars`, { [field]: s(64) }, true],
  [`${field} 65 chars`, { [field]: s(65) }, false],
  [`${field} number`, { [field]: 1 }, false],
  [`${field} null`, { [field]: null }, false],
  [`${field} missing`, { [field]: DEL }, !required],
];

const boolRows = (field: string): Row[] => [
  [`${field} true`, { [field]: true }, true],
  [`${field} false`, { [field]: false }, true],
  [`${field} "true"`, { [field]: 'true' }, false],
  [`${field} 1`, { [field]: 1 }, false],
  [`${field} missing`, { [field]: DEL }, false],
];

/** just under / at / just over a minimum, and at / just over a maximum. */
const rangeRows = (field: string, min: number | null, max: number | null, step: number): Row[] => [
  ...(min === null ? [] : [
    [`${field} just under min ${min}`, { [field]: min - step }, false],
    [`${field} at min ${min}`, { [field]: min }, true],
    [`${field} just over min ${min}`, { [field]: min + step }, true],
  ] as Row[]),
  ...(max === null ? [] : [
    [`${field} just under max ${max}`, { [field]: max - step }, true],
    [`${field} at max ${max}`, { [field]: max }, true],
    [`${field} just over max ${max}`, { [field]: max + step }, false],
  ] as Row[]),
  [`${field} as a string`, { [field]: String(min ?? max ?? 1) }, false],
  [`${field} Infinity`, { [field]: Infinity }, false],
];

const intRows = (field: string): Row[] => [[`${field} fractional`, { [field]: 1.5 }, false]];

const optionalRows = (field: string, optional: boolean): Row[] => [[`${field} missing`, { [field]: DEL }, optional]];

const enumRows = (field: string, values: readonly string[], bad: string[]): Row[] => [
  ...values.map((v): Row => [`${field} = ${v}`, { [field]: v }, true]),
  ...bad.map((v): Row => [`${field} = ${JSON.stringify(v)}`, { [field]: v }, false]),
  [`${field} missing`, { [field]: DEL }, false],
];

const strMaxRows = (field: string, max: number, optional: boolean): Row[] => [
  [`${field} ${max} chars`, { [field]: s(max) }, true],
  [`${field} ${max + 1} chars`, { [field]: s(max + 1) }, false],
  [`${field} number`, { [field]: 7 }, false],
  [`${field} missing`, { [field]: DEL }, optional],
];

const tables: Record<string, Row[]> = {
  heartbeat: [
    ...strMaxRows('fw', 64, true),
    ['fw empty', { fw: '' }, true],
    ...rangeRows('rssi', -200, 0, 0.001), ...optionalRows('rssi', true),
    ...rangeRows('uptimeS', 0, null, 0.001), ...optionalRows('uptimeS', true),
    ['uptimeS huge', { uptimeS: 1e12 }, true],
    ...rangeRows('batteryPct', 0, 100, 0.001), ...optionalRows('batteryPct', true),
  ],
  'kitchen/violation': [
    ...identRows('storeId', true),
    ...enumRows('type', violationTypes, ['dog', 'RAT', 'no_chef_hat ', '']),
    ...rangeRows('confidence', 0, 1, 0.0001), ...optionalRows('confidence', false),
    ...strMaxRows('area', 128, true),
    ...strMaxRows('snapshotUrl', 2048, true),
    ['bbox missing', { bbox: DEL }, true],
    ['bbox full frame', { bbox: [0, 0, 1, 1] }, true],
    ['bbox zero-size point (x1=x2, y1=y2)', { bbox: [0.5, 0.5, 0.5, 0.5] }, true],
    ['bbox x1 > x2', { bbox: [0.31, 0.2, 0.3, 0.6] }, false],
    ['bbox y1 > y2', { bbox: [0.1, 0.61, 0.3, 0.6] }, false],
    ['bbox 3 numbers', { bbox: [0.1, 0.2, 0.3] }, false],
    ['bbox 5 numbers', { bbox: [0.1, 0.2, 0.3, 0.6, 0.7] }, false],
    ['bbox value over 1', { bbox: [0.1, 0.2, 1.0001, 0.6] }, false],
    ['bbox value under 0', { bbox: [-0.0001, 0.2, 0.3, 0.6] }, false],
    ['bbox strings', { bbox: ['0.1', '0.2', '0.3', '0.6'] }, false],
    ['bbox object', { bbox: { x1: 0.1 } }, false],
  ],
  'elevator/status': [
    ...rangeRows('floor', -20, 300, 1), ...intRows('floor'), ...optionalRows('floor', false),
    ...boolRows('doorZone'), ...boolRows('doorClosed'), ...boolRows('moving'), ...boolRows('passengerPresent'), ...boolRows('powerOk'),
    ...enumRows('direction', ['up', 'down', 'stop'], ['left', 'UP', '']),
    ...rangeRows('speedMps', 0, 30, 0.001), ...optionalRows('speedMps', false),
    ...enumRows('serviceMode', serviceModes, ['maintenance', 'Normal']),
  ],
  'elevator/fault': [
    ...faultCodes.map((c): Row => [`fault code ${c}`, { code: c }, true]),
    ...eventCodes.map((c): Row => [`event code ${c}`, { code: c }, true]),
    ...[0, 16, 39, 48, -1, 100].map((c): Row => [`code ${c}`, { code: c }, false]),
    ['code fractional', { code: 2.5 }, false],
    ['code as a string', { code: '2' }, false],
    ['code missing', { code: DEL }, false],
    ...rangeRows('floor', -20, 300, 1), ...intRows('floor'), ...optionalRows('floor', true),
    ...strMaxRows('detail', 512, true),
  ],
  'cylinder/scan': [
    ...identRows('cylinderCode', true), ...identRows('stationId', true), ...identRows('operatorId', true),
    ...enumRows('point', scanPoints, ['filling', 'POST_FILL', '']),
    ...scanPoints.filter((p) => p !== 'post_fill').map((p): Row => [`point ${p} without netKg`, { point: p, netKg: DEL }, true]),
    ['point post_fill without netKg', { netKg: DEL, point: 'post_fill' }, false],
    ['point post_fill with netKg 0', { point: 'post_fill', netKg: 0 }, true],
    ...rangeRows('netKg', 0, 1000, 0.001),
    ...rangeRows('residualPressureMpa', 0, 100, 0.001), ...optionalRows('residualPressureMpa', true),
  ],
  'dispenser/txn': [
    ...identRows('stationId', true), ...identRows('dispenserId', true),
    ...rangeRows('nozzle', 1, 99, 1), ...intRows('nozzle'), ...optionalRows('nozzle', false),
    ['grade "95"', { grade: '95' }, true], ['grade "0#diesel"', { grade: '0#diesel' }, true],
    ['grade empty', { grade: '' }, false], ['grade 16 chars', { grade: s(16) }, true], ['grade 17 chars', { grade: s(17) }, false],
    ['grade number 92', { grade: 92 }, false], ['grade missing', { grade: DEL }, false],
    ...rangeRows('volumeL', 0, 100_000, 0.001), ...optionalRows('volumeL', false),
    ...rangeRows('amountYuan', 0, 10_000_000, 0.01), ...optionalRows('amountYuan', false),
    ...rangeRows('unitPrice', 0, 1_000, 0.001), ...optionalRows('unitPrice', false),
    ...rangeRows('totalizerL', 0, null, 0.001), ...optionalRows('totalizerL', false),
    ['totalizerL 1e12', { totalizerL: 1e12 }, true],
    ...rangeRows('durationS', 0, null, 0.001), ...optionalRows('durationS', true),
    ...rangeRows('pulses', 0, null, 1), ...intRows('pulses'), ...optionalRows('pulses', true),
    ['pulsesPerL 0', { pulsesPerL: 0 }, false], ['pulsesPerL 0.001', { pulsesPerL: 0.001 }, true], ['pulsesPerL negative', { pulsesPerL: -1 }, false],
    ...optionalRows('pulsesPerL', true),
    ...identRows('tankId', false),
  ],
  'dispenser/tank': [
    ...identRows('stationId', true), ...identRows('tankId', true),
    ['grade empty', { grade: '' }, false], ['grade 16 chars', { grade: s(16) }, true], ['grade 17 chars', { grade: s(17) }, false], ['grade missing', { grade: DEL }, false],
    ...rangeRows('volumeL', 0, 1_000_000, 0.001), ...optionalRows('volumeL', false),
    ...rangeRows('tempC', -60, 100, 0.001), ...optionalRows('tempC', true),
    ...rangeRows('waterMm', 0, 10_000, 0.001), ...optionalRows('waterMm', true),
  ],
  'dispenser/tamper': [
    ...identRows('stationId', true), ...identRows('dispenserId', true),
    ...enumRows('kind', tamperKinds, ['seal', 'SEAL_OPEN', '']),
  ],
};

describe.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s field table', (key, family, channel) => {
  const rows = tables[key] ?? tables[channel]!;
  it('has a table', () => expect(rows.length).toBeGreaterThan(0));

  it.each(titled(rows))('%s', (_d, patch, valid) => {
    const r = parse(family, channel, withPatch(example(family, channel), patch));
    expect(r.success, JSON.stringify(r.error?.issues ?? r.data)).toBe(valid);
    if (!valid) {
      // the issue names the field (or lies under it, e.g. bbox.2)
      const field = Object.keys(patch)[0]!;
      expect(issuePaths(r).some((p) => p === field || p.startsWith(field + '.'))).toBe(true);
    }
  });
});

describe('channel-specific paths and messages', () => {
  it('netKg is required at post_fill, with the path netKg and a message saying why', () => {
    const r = parse('cylinder', 'scan', withPatch(example('cylinder', 'scan'), { netKg: DEL }));
    expect(r.success).toBe(false);
    expect(r.error!.issues).toEqual([expect.objectContaining({ path: ['netKg'], message: expect.stringContaining('post_fill') })]);
  });

  it('bbox ordering names the rule', () => {
    const r = parse('kitchen', 'violation', withPatch(example('kitchen', 'violation'), { bbox: [0.5, 0.5, 0.4, 0.6] }));
    expect(r.error!.issues[0]!.message).toMatch(/x1<=x2/);
  });

  it('elevator fault code message names the two ranges', () => {
    const r = parse('elevator', 'fault', withPatch(example('elevator', 'fault'), { code: 16 }));
    expect(r.error!.issues[0]).toMatchObject({ path: ['code'], message: expect.stringMatching(/1-15.*40-47/) });
  });

  it('every missing required field is reported at once, each at its own path', () => {
    const r = parse('elevator', 'status', { msgId: 'x', ts: TS });
    expect(new Set(issuePaths(r))).toEqual(new Set([
      'floor', 'doorZone', 'doorClosed', 'moving', 'direction', 'speedMps', 'passengerPresent', 'serviceMode', 'powerOk',
    ]));
  });

  it('unknown fields are not rejected by the schema (the decoder keeps them as extra)', () => {
    const r = parse('dispenser', 'tamper', { ...example('dispenser', 'tamper'), firmwareNote: 'x' });
    expect(r.success).toBe(true);
    expect(r.data).not.toHaveProperty('firmwareNote');
  });
});

describe('cylinder scan reply (platform -> device)', () => {
  const good = { msgId: 'scan-1', cylinderCode: 'LPG-330106-000123', decision: 'allow', reasons: [], ts: '2026-11-23T08:00:00.000Z' };
  const rows: Row[] = [
    ['the base reply', {}, true],
    ['decision refuse with every reason', { decision: 'refuse', reasons: [...scanReasons] }, true],
    ...scanReasons.map((r): Row => [`reason ${r}`, { reasons: [r] }, true]),
    ['decision maybe', { decision: 'maybe' }, false],
    ['decision missing', { decision: DEL }, false],
    ['unknown reason', { reasons: ['too_heavy'] }, false],
    ['reasons not an array', { reasons: 'scrapped' }, false],
    ['reasons missing', { reasons: DEL }, false],
    ['ts with offset', { ts: '2026-11-23T16:00:00+08:00' }, true],
    ['ts local time without offset', { ts: '2026-11-23T08:00:00' }, false],
    ['ts epoch ms (the reply uses RFC 3339)', { ts: 1_795_392_000_000 }, false],
    ['msgId 64 chars', { msgId: s(64) }, true],
    ['msgId 65 chars', { msgId: s(65) }, false],
    ['msgId empty', { msgId: '' }, false],
    ['cylinderCode empty', { cylinderCode: '' }, false],
    ['cylinderCode 65 chars', { cylinderCode: s(65) }, false],
  ];
  it.each(titled(rows))('%s', (_d, patch, valid) => {
    const r = cylinderScanReply.safeParse(withPatch(good, patch));
    expect(r.success).toBe(valid);
  });
});
