import type * as vscode from 'vscode';

/**
 * Coalesces bursts of events into at most one call per `intervalMs` (leading and trailing edge).
 * A write storm fires lock events hundreds of times a second; a tree or status item needs a few
 * refreshes a second at most (VS Code itself debounces `onDidChangeTreeData` by ~200 ms).
 */
export class Throttle implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private disposed = false;

  constructor(private readonly fn: () => void, private readonly intervalMs = 250) {}

  /** Asks for a call; runs now if the last one was long enough ago, else once at the end of the interval. */
  schedule(): void {
    if (this.disposed || this.timer) return;
    const wait = Math.max(0, this.last + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.disposed) return;
      this.last = Date.now();
      this.fn();
    }, wait);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A repeating UI clock (live "waited 3 s" texts) that runs only while someone needs it; never polls the store. */
export class Ticker implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly fn: () => void, private readonly intervalMs = 1000) {}

  set running(on: boolean) {
    if (on && !this.timer) this.timer = setInterval(this.fn, this.intervalMs);
    else if (!on && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  dispose(): void {
    this.running = false;
  }
}
