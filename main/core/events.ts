/** Events from services to whichever transports are listening (Electron windows, host sockets). */
import type { EventName, Events } from '../../preload/contract.ts';

export type Listener = <E extends EventName>(event: E, payload: Events[E]) => void;

export class EventHub {
  private readonly listeners = new Set<Listener>();
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit<E extends EventName>(event: E, payload: Events[E]): void {
    for (const l of this.listeners) {
      try {
        l(event, payload);
      } catch {
        // A broken listener (a closed window, a dead socket) must not stop the others.
      }
    }
  }
}
