/** An event bus for tests that build a part alone: a listener that throws fails the test. */
import { EventBus } from '../../core/eventBus.js';

export function testBus<E>(): EventBus<E> {
  return new EventBus<E>((_type, err) => { throw err; });
}
