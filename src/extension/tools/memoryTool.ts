import * as vscode from 'vscode';
import { errorCode, errorMessage } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { StoreConnection } from '../storeConnection';

/**
 * What every memory tool shares: the lazily opened store, cancellation turned into an AbortSignal,
 * and errors turned into a message the model can act on ("E_NOT_FOUND: No memory with id …").
 * Each tool is its own class with a static `id` (the pattern of vscode-pull-request-github).
 */
export abstract class MemoryTool<T> implements vscode.LanguageModelTool<T> {
  constructor(protected readonly connection: StoreConnection, protected readonly log: Logger) {}

  abstract invoke(options: vscode.LanguageModelToolInvocationOptions<T>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult>;

  /** Runs the tool body; a failure is logged and rethrown with its stable code for the model. */
  protected async run(name: string, token: vscode.CancellationToken, body: (signal: AbortSignal) => Promise<string>): Promise<vscode.LanguageModelToolResult> {
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort(new vscode.CancellationError()));
    const started = Date.now();
    try {
      if (token.isCancellationRequested) throw new vscode.CancellationError();
      const text = await body(controller.signal);
      this.log.debug(`${name} answered in ${Date.now() - started} ms`);
      return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
    } catch (err) {
      if (err instanceof vscode.CancellationError || token.isCancellationRequested) throw new vscode.CancellationError();
      this.log.warn(`${name} failed (${errorCode(err)}): ${errorMessage(err)}`);
      throw new Error(`${errorCode(err)}: ${errorMessage(err)}`);
    } finally {
      sub.dispose();
    }
  }

  /** `workspace` means this window's workspace scope (global without a folder); anything else is taken as given. */
  protected scope(value: string | undefined): string | undefined {
    if (value === undefined) return undefined;
    if (value === 'workspace') return this.connection.workspaceScope ?? 'global';
    return value;
  }

  /** Scopes to search: `all` means every scope this window can see (workspace + global). */
  protected scopes(value: string | undefined): string[] | undefined {
    if (value === undefined || value === 'all') return undefined;
    return [this.scope(value)!];
  }
}
