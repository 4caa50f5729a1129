import type { Disposable } from './lifecycle';

/** A subscription function, shaped like vscode.Event so adapters can pass it through. */
export type Event<T> = (listener: (e: T) => void) => Disposable;

/** Minimal typed emitter for core services (core cannot use vscode.EventEmitter). */
export class Emitter<T> implements Disposable {
  private listeners = new Set<(e: T) => void>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => { this.listeners.delete(listener); } };
  };

  fire(e: T): void {
    for (const listener of [...this.listeners]) {
      // A throwing subscriber (a view) must never break the write path that fired the event.
      try { listener(e); } catch { /* ignored on purpose */ }
    }
  }

  get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  dispose(): void {
    this.listeners.clear();
  }
}
