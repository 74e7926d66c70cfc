/**
 * Topic grammar (core/topic.ts) and the topic ACL (core/acl.ts): who may publish and
 * subscribe where (docs/protocol.md, Transport; Topics and what a device may do). Pure
 * functions, table-tested.
 */
import { describe, expect, it } from 'vitest';
import { checkPublish, checkSubscribe, type Identity } from '../../core/acl.js';
import { checkClientId } from '../../broker/clientId.js';
import { errorTopic, parseDeviceTopic, scanReplyTopic } from '../../core/topic.js';
import type { Family } from '../../core/schemas/index.js';

const device = (family: Family, deviceId: string): Identity => ({ kind: 'device', family, deviceId });
const anon: Identity = { kind: 'anonymous' };

const K = device('kitchen', 'k-1');
const E = device('elevator', 'e-1');
const C = device('cylinder', 'c-1');
const D = device('dispenser', 'd-1');

const id64 = 'a'.repeat(64);
const id65 = 'a'.repeat(65);

describe('parseDeviceTopic', () => {
  it.each([
    ['kitchen/k-1/violation', { family: 'kitchen', deviceId: 'k-1', channel: 'violation' }],
    ['elevator/E_2/status', { family: 'elevator', deviceId: 'E_2', channel: 'status' }],
    ['cylinder/c-1/scan/reply', { family: 'cylinder', deviceId: 'c-1', channel: 'scan/reply' }],
    [`dispenser/${id64}/txn`, { family: 'dispenser', deviceId: id64, channel: 'txn' }],
    ['kitchen/0/heartbeat', { family: 'kitchen', deviceId: '0', channel: 'heartbeat' }],
  ])('%s parses', (topic, expected) => {
    expect(parseDeviceTopic(topic)).toEqual(expected);
  });

  it.each([
    ['empty', ''],
    ['one level', 'kitchen'],
    ['two levels', 'kitchen/k-1'],
    ['leading slash', '/kitchen/k-1/violation'],
    ['empty device id', 'kitchen//violation'],
    ['empty channel (trailing slash)', 'kitchen/k-1/'],
    ['trailing slash after channel', 'kitchen/k-1/violation/'],
    ['double slash in channel', 'kitchen/k-1/scan//reply'],
    ['three channel levels', 'cylinder/c-1/scan/reply/x'],
    ['unknown family', 'boiler/b-1/status'],
    ['family in capitals', 'Kitchen/k-1/violation'],
    ['alerts topic', 'alerts/kitchen/rat'],
    ['$SYS topic', '$SYS/broker/clients'],
    ['device id with a space', 'kitchen/k 1/violation'],
    ['device id with a dot', 'kitchen/k.1/violation'],
    ['device id with unicode', 'kitchen/厨房1/violation'],
    ['device id of 65 chars', `kitchen/${id65}/violation`],
    ['+ as device id', 'kitchen/+/violation'],
    ['# as device id', 'kitchen/#'],
    ['+ as channel', 'kitchen/k-1/+'],
    ['# as channel', 'kitchen/k-1/#'],
    ['# alone', '#'],
    ['+ alone', '+'],
    ['channel in capitals', 'kitchen/k-1/Violation'],
    ['channel with digits', 'kitchen/k-1/violation2'],
    ['channel with a dash', 'kitchen/k-1/scan-reply'],
    ['channel over 32 chars', `kitchen/k-1/${'a'.repeat(33)}`],
    ['NUL in topic', 'kitchen/k-1/viol\u0000ation'],
  ])('%s (%s) is not a device topic', (_d, topic) => {
    expect(parseDeviceTopic(topic)).toBeNull();
  });

  it('builds reply topics that parse back to the device', () => {
    expect(parseDeviceTopic(errorTopic('elevator', 'e-1'))).toEqual({ family: 'elevator', deviceId: 'e-1', channel: 'error' });
    expect(parseDeviceTopic(scanReplyTopic('c-1'))).toEqual({ family: 'cylinder', deviceId: 'c-1', channel: 'scan/reply' });
  });
});

describe('checkPublish', () => {
  // [who, topic, expected outcome]
  type Outcome = 'ok' | 'topic_invalid' | 'topic_not_allowed';
  const rows: Array<[string, Identity, string, Outcome]> = [
    // own topics, every channel of the family
    ['kitchen violation', K, 'kitchen/k-1/violation', 'ok'],
    ['kitchen heartbeat', K, 'kitchen/k-1/heartbeat', 'ok'],
    ['elevator status', E, 'elevator/e-1/status', 'ok'],
    ['elevator fault', E, 'elevator/e-1/fault', 'ok'],
    ['cylinder scan', C, 'cylinder/c-1/scan', 'ok'],
    ['dispenser txn', D, 'dispenser/d-1/txn', 'ok'],
    ['dispenser tank', D, 'dispenser/d-1/tank', 'ok'],
    ['dispenser tamper', D, 'dispenser/d-1/tamper', 'ok'],
    // a well-formed own topic whose channel the family lacks: the ACL lets it through, decoding refuses it (unknown_channel)
    ['own topic, channel of another family', K, 'kitchen/k-1/status', 'ok'],
    // other device / other family
    ['another device of the same family', K, 'kitchen/k-2/violation', 'topic_not_allowed'],
    ['own id under another family', K, 'elevator/k-1/status', 'topic_not_allowed'],
    ['another family and device', E, 'kitchen/k-1/violation', 'topic_not_allowed'],
    ['device id differing in case', K, 'kitchen/K-1/violation', 'topic_not_allowed'],
    ['device id that is a prefix', K, 'kitchen/k-/violation', 'topic_not_allowed'],
    // reply channels are platform -> device
    ['own error channel', K, 'kitchen/k-1/error', 'topic_not_allowed'],
    ['own scan/reply', C, 'cylinder/c-1/scan/reply', 'topic_not_allowed'],
    ['dispenser error', D, 'dispenser/d-1/error', 'topic_not_allowed'],
    ['another device\'s error', K, 'kitchen/k-2/error', 'topic_not_allowed'],
    // malformed
    ['empty topic', K, '', 'topic_invalid'],
    ['empty levels', K, 'kitchen//violation', 'topic_invalid'],
    ['trailing slash', K, 'kitchen/k-1/violation/', 'topic_invalid'],
    ['bad id chars', K, 'kitchen/k!1/violation', 'topic_invalid'],
    ['too long id', device('kitchen', id64), `kitchen/${id65}/violation`, 'topic_invalid'],
    ['unknown family', K, 'restaurant/k-1/violation', 'topic_invalid'],
    ['wildcard +', K, 'kitchen/+/violation', 'topic_invalid'],
    ['wildcard #', K, 'kitchen/k-1/#', 'topic_invalid'],
    ['alerts', K, 'alerts/kitchen/rat', 'topic_invalid'],
    ['$SYS', K, '$SYS/x/y', 'topic_invalid'],
    ['four levels not a reply channel', K, 'kitchen/k-1/violation/extra', 'ok'], // two-level channel grammar; unknown_channel at decode
    // anonymous (open mode): any device's device->platform topic, never reply channels, never malformed
    ['anonymous on a device topic', anon, 'elevator/e-9/status', 'ok'],
    ['anonymous on another family', anon, 'dispenser/x/txn', 'ok'],
    ['anonymous on an error channel', anon, 'elevator/e-9/error', 'topic_not_allowed'],
    ['anonymous on scan/reply', anon, 'cylinder/c-9/scan/reply', 'topic_not_allowed'],
    ['anonymous on a malformed topic', anon, 'elevator//status', 'topic_invalid'],
    ['anonymous with a wildcard', anon, 'elevator/+/status', 'topic_invalid'],
  ];

  it.each(rows)('%s: %s -> %s', (_d, who, topic, outcome) => {
    const r = checkPublish(who, topic);
    if (outcome === 'ok') {
      expect(r).toEqual({ ok: true, topic: parseDeviceTopic(topic) });
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.reason).toBe(outcome);
        expect(r.detail.length).toBeGreaterThan(0);
      }
    }
  });

  it('topic_not_allowed for another device says which root is allowed, and does not hand back the topic', () => {
    const r = checkPublish(K, 'kitchen/k-2/violation');
    expect(r).toMatchObject({ ok: false, reason: 'topic_not_allowed', topic: null });
    if (!r.ok) expect(r.detail).toContain('kitchen/k-1/');
  });

  it('a reply channel refusal carries the parsed (own) topic so the device can be told', () => {
    const r = checkPublish(C, 'cylinder/c-1/scan/reply');
    expect(r).toMatchObject({ ok: false, reason: 'topic_not_allowed', topic: { family: 'cylinder', deviceId: 'c-1', channel: 'scan/reply' } });
  });

  it('a huge malformed topic is truncated in the detail', () => {
    const r = checkPublish(K, 'x'.repeat(10_000));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('topic_invalid');
      expect(r.detail.length).toBeLessThan(300);
    }
  });
});

describe('checkSubscribe', () => {
  const rows: Array<[string, Identity, string, boolean]> = [
    ['own error (kitchen)', K, 'kitchen/k-1/error', true],
    ['own error (elevator)', E, 'elevator/e-1/error', true],
    ['own error (dispenser)', D, 'dispenser/d-1/error', true],
    ['own error (cylinder)', C, 'cylinder/c-1/error', true],
    ['own scan/reply (cylinder)', C, 'cylinder/c-1/scan/reply', true],
    ['scan/reply for a kitchen device', K, 'kitchen/k-1/scan/reply', false],
    ['scan/reply for a dispenser', D, 'dispenser/d-1/scan/reply', false],
    ['#', K, '#', false],
    ['+', K, '+', false],
    ['own root with #', K, 'kitchen/k-1/#', false],
    ['own error via +', K, 'kitchen/+/error', false],
    ['own channel via +', K, 'kitchen/k-1/+', false],
    ['everything below the family', C, 'cylinder/#', false],
    ['another device\'s error', K, 'kitchen/k-2/error', false],
    ['another device\'s scan/reply', C, 'cylinder/c-2/scan/reply', false],
    ['own id under another family', K, 'elevator/k-1/error', false],
    ['own readings channel', K, 'kitchen/k-1/violation', false],
    ['own heartbeat', E, 'elevator/e-1/heartbeat', false],
    ['own scan (device -> platform)', C, 'cylinder/c-1/scan', false],
    ['alerts', K, 'alerts/kitchen/rat', false],
    ['alerts wildcard', K, 'alerts/#', false],
    ['$SYS', K, '$SYS/#', false],
    ['empty filter', K, '', false],
    ['malformed', K, 'kitchen//error', false],
    // anonymous (open mode): any device's reply topic, never wildcards or readings
    ['anonymous on a device error topic', anon, 'kitchen/k-7/error', true],
    ['anonymous on a scan/reply', anon, 'cylinder/c-7/scan/reply', true],
    ['anonymous on #', anon, '#', false],
    ['anonymous on +/error', anon, 'kitchen/+/error', false],
    ['anonymous on a readings channel', anon, 'kitchen/k-7/violation', false],
    ['anonymous on a kitchen scan/reply', anon, 'kitchen/k-7/scan/reply', false],
    // a user limited to a district: alert topics carry no district (docs/api.md, District scope)
    ['a whole-city operator on alerts', { kind: 'user', username: 'op', role: 'operator', district: null }, 'alerts/#', true],
    ['a district-scoped operator on alerts', { kind: 'user', username: 'op', role: 'operator', district: '330106' }, 'alerts/#', false],
    ['a district-scoped dispatcher on elevator alerts', { kind: 'user', username: 'd', role: 'dispatcher', district: '330106' }, 'alerts/elevator/#', false],
  ];

  it.each(rows)('%s: %s -> %s', (_d, who, filter, expected) => {
    expect(checkSubscribe(who, filter)).toBe(expected);
  });
});

describe('checkClientId: each identity has its own namespace of client ids (docs/security.md)', () => {
  const user: Identity = { kind: 'user', username: 'ops.team@city', role: 'operator' };
  it.each([
    [K, 'k-1', true, 'k-1'],
    [K, 'k-1', false, 'k-1'],
    [K, 'e-1', true, null],
    [K, 'k-1-2', true, null],
    [K, 'K-1', true, null],
    [K, '', true, null],
    [K, 'user:ops.team@city', true, null],
    [user, 'user:ops.team@city', false, 'user:ops.team@city'],
    [user, 'user:ops.team@city:grafana_1.a-b', true, 'user:ops.team@city:grafana_1.a-b'],
    [user, 'user:ops.team@city:', true, null],
    [user, `user:ops.team@city:${'t'.repeat(33)}`, true, null],
    [user, 'user:ops.team@cityx', true, null],
    [user, 'ops.team@city', true, null],
    [user, 'k-1', true, null],
    [user, '', true, null],
    [anon, 'anon:x', false, 'anon:x'],
    [anon, `anon:${'x'.repeat(64)}`, true, `anon:${'x'.repeat(64)}`],
    [anon, `anon:${'x'.repeat(65)}`, true, null],
    [anon, 'anon:a b', true, null],
    [anon, 'anon:', true, null],
    [anon, 'k-1', true, null],
    [anon, 'user:admin', true, null],
    [anon, '', false, null],
  ] as Array<[Identity, string, boolean, string | null]>)('%o with %j (clean %s) -> %j', (who, requested, clean, expected) => {
    const d = checkClientId(who, requested, clean);
    expect(d.ok ? d.clientId : null).toBe(expected);
    if (!d.ok) expect(d.detail.length).toBeGreaterThan(10);
  });

  it('an empty anonymous id with clean session is assigned one in the anonymous namespace', () => {
    const a = checkClientId(anon, '', true);
    const b = checkClientId(anon, '', true);
    expect(a.ok && a.clientId).toMatch(/^anon:[0-9a-f-]{36}$/);
    expect(a.ok && b.ok && a.clientId !== b.clientId).toBe(true);
  });
});
