import type { EventName, EventPayload } from '../../shared/contract.js';

/** Server → UI pushes: every transport subscribes here with `onDidEmit`. */
export class AppEvents {
  private readonly listeners = new Set<(event: EventName, payload: unknown) => void>();

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of [...this.listeners]) l(event, payload);
  }

  /** Every event from now on; returns the unsubscribe. */
  onDidEmit(listener: (event: EventName, payload: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
