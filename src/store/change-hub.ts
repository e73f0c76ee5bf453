/**
 * The change signal a store gives its caches (Store.changes): listeners are called after each
 * committed change. A listener that throws does not stop the others.
 */
import type { StoreChange, StoreChanges } from './store.js';

export class ChangeHub implements StoreChanges {
  private readonly listeners = new Set<(change: StoreChange) => void>();
  /** Set by a store that can look for other processes' commits itself (StoreChanges.poll). */
  poll?: () => void;

  constructor(private readonly onListenerError?: (err: unknown) => void) {}

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.onListenerError?.(err);
      }
    }
  }
}
