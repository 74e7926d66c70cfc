import { describe, expect, it } from 'vitest';
import { EventBus } from '../../core/eventBus.js';

interface Events {
  a: number;
  b: string;
}

describe('EventBus', () => {
  it('delivers each event to its listeners in subscription order, and only to them', () => {
    const bus = new EventBus<Events>(() => undefined);
    const got: string[] = [];
    bus.on('a', (n) => got.push(`1:${n}`));
    bus.on('b', (s) => got.push(`b:${s}`));
    bus.on('a', (n) => got.push(`2:${n}`));
    bus.emit('a', 7);
    bus.emit('b', 'x');
    expect(got).toEqual(['1:7', '2:7', 'b:x']);
  });

  it('on() returns the removal: removed listeners hear nothing, removing twice changes nothing', () => {
    const bus = new EventBus<Events>(() => undefined);
    const got: number[] = [];
    const off1 = bus.on('a', (n) => got.push(n));
    const off2 = bus.on('a', (n) => got.push(n * 10));
    expect(bus.listenerCount()).toBe(2);
    off1();
    off1();
    bus.emit('a', 1);
    off2();
    bus.emit('a', 2);
    expect(got).toEqual([10]);
    expect(bus.listenerCount('a')).toBe(0);
    expect(bus.listenerCount()).toBe(0);
  });

  it('a throwing listener is reported and the others still hear the event', () => {
    const errors: Array<[string, unknown]> = [];
    const bus = new EventBus<Events>((type, err) => errors.push([type, err]));
    const got: number[] = [];
    bus.on('a', () => { throw new Error('listener bug'); });
    bus.on('a', (n) => got.push(n));
    expect(() => bus.emit('a', 3)).not.toThrow();
    expect(got).toEqual([3]);
    expect(errors).toEqual([['a', new Error('listener bug')]]);
  });

  it('a listener removed or added during an emit does not change that emit', () => {
    const bus = new EventBus<Events>(() => undefined);
    const got: string[] = [];
    let off2 = (): void => undefined;
    bus.on('a', () => { off2(); bus.on('a', () => got.push('late')); got.push('first'); });
    off2 = bus.on('a', () => got.push('second'));
    bus.emit('a', 0);
    expect(got).toEqual(['first', 'second']);
    got.length = 0;
    bus.emit('a', 0);
    expect(got).toEqual(['first', 'late']);
  });
});
