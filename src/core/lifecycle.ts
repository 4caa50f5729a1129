/** Something that holds resources until disposed. Mirrors vscode.Disposable without importing it. */
export interface Disposable {
  dispose(): void;
}

export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return { dispose: () => { if (!done) { done = true; fn(); } } };
}

/**
 * Base class that owns child disposables and disposes them in reverse order of registration
 * (the vscode-pull-request-github `_register` pattern), so nothing is left subscribed.
 */
export abstract class DisposableBase implements Disposable {
  private readonly _children: Disposable[] = [];
  private _disposed = false;

  protected get isDisposed(): boolean {
    return this._disposed;
  }

  protected _register<T extends Disposable>(child: T): T {
    if (this._disposed) child.dispose();
    else this._children.push(child);
    return child;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const child of this._children.splice(0).reverse()) {
      try { child.dispose(); } catch { /* one failing child must not keep the others alive */ }
    }
  }
}
