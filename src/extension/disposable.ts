import * as vscode from 'vscode';

/**
 * Base for everything the extension creates that must be cleaned up. A parent owns its children
 * through `_register`, and disposing it disposes them in reverse order of creation, so nothing
 * outlives the extension (the pattern of vscode-pull-request-github).
 */
export abstract class Disposable implements vscode.Disposable {
  private readonly children: vscode.Disposable[] = [];
  private disposed = false;

  protected _register<T extends vscode.Disposable>(child: T): T {
    if (this.disposed) child.dispose();
    else this.children.push(child);
    return child;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    for (const child of this.children.splice(0).reverse()) {
      try {
        child.dispose();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several disposables failed to dispose');
  }
}
