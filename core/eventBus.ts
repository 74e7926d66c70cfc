/**
 * One typed event bus for the service's parts (service/dataPath.ts wires the reading's path
 * on it). A part declares the events it emits (e.g. ingest's IngestEvents) and takes an
 * `Emitter` of them; whoever listens subscribes with `on`, which returns the function that
 * removes the listener, so the one who subscribed owns it and removes it on stop(). A
 * listener that throws is reported and does not stop the others, nor the emitter.
 */
export type Listener<T> = (payload: T) => void;

export interface Emitter<E> {
  emit<K extends keyof E & string>(type: K, payload: E[K]): void;
}

export interface Subscriber<E> {
  on<K extends keyof E & string>(type: K, listener: Listener<E[K]>): () => void;
}

export class EventBus<E> implements Emitter<E>, Subscriber<E> {
  private readonly listeners = new Map<string, Array<Listener<never>>>();

  constructor(private readonly onListenerError: (type: string, err: unknown) => void) {}

  on<K extends keyof E & string>(type: K, listener: Listener<E[K]>): () => void {
    // a new array each time: an emit in progress goes on over the list it started with
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener as Listener<never>]);
    return () => {
      const list = this.listeners.get(type) ?? [];
      const at = list.indexOf(listener as Listener<never>);
      if (at >= 0) this.listeners.set(type, [...list.slice(0, at), ...list.slice(at + 1)]);
    };
  }

  emit<K extends keyof E & string>(type: K, payload: E[K]): void {
    const list = this.listeners.get(type);
    if (!list) return;
    for (const l of list) {
      try {
        (l as Listener<E[K]>)(payload);
      } catch (err) {
        this.onListenerError(type, err);
      }
    }
  }

  /** Listeners of one event, or of all (the tests prove stop() leaves none). */
  listenerCount(type?: keyof E & string): number {
    if (type !== undefined) return this.listeners.get(type)?.length ?? 0;
    let n = 0;
    for (const list of this.listeners.values()) n += list.length;
    return n;
  }
}
