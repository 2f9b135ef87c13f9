import type { RuntimeEvent } from './container-runtime.js';

export type RuntimeListener = (event: RuntimeEvent) => void;

/** The listeners of one runtime's `onEvent`: every listener hears every event, whatever another one throws. */
export class RuntimeEventHub {
  private readonly listeners = new Set<RuntimeListener>();

  /** Adds a listener; returns its unsubscribe (safe to call twice). */
  add(listener: RuntimeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(event: RuntimeEvent): void {
    // A copy: a listener that unsubscribes (or subscribes another) while hearing the event changes no delivery.
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break the runtime or hide a death from the other listeners.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
