import * as vscode from 'vscode';
import { errorCode, errorMessage } from '../../core/errors';
import type { Logger } from '../../core/log';
import { checkToolInput, toolContract, toolInputProblem, toolInputSchema, toolScope, toolScopes, type ToolName } from '../../core/tools/contract';
import type { ValueSchema } from '../manifestSchema';
import type { StoreConnection } from '../storeConnection';

/**
 * What every memory tool shares: the input checked against the `inputSchema` the model was given,
 * the lazily opened store, cancellation turned into an AbortSignal, and errors turned into a message
 * the model can act on ("E_NOT_FOUND: No memory with id …", "E_INVALID: importance: must be a number
 * from 0 to 1, got 7"). Each tool is its own class with a static `id` (the pattern of
 * vscode-pull-request-github).
 */
export abstract class MemoryTool<T> implements vscode.LanguageModelTool<T> {
  /** The tool's name in the contract (and package.json). */
  protected abstract readonly name: ToolName;

  /**
   * `declared`: the tool's `inputSchema` from package.json, what the model was shown (generated
   * from the tool contract, and checked to match it). VS Code does not enforce it; `run` does.
   */
  constructor(protected readonly connection: StoreConnection, protected readonly log: Logger, private readonly declared?: ValueSchema) {}

  private get schema(): ValueSchema {
    return this.declared ?? toolInputSchema(toolContract(this.name)!, 'lm');
  }

  abstract invoke(options: vscode.LanguageModelToolInvocationOptions<T>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult>;

  /**
   * Why `input` is not a valid call (`text: must be a string, got 42`, `give either id or query…`),
   * or undefined. A model sees the schema but may still send anything: a string for a number,
   * `"false"` for a boolean (which would be truthy), a limit the description never offered.
   */
  protected inputProblem(input: unknown): string | undefined {
    return toolInputProblem(toolContract(this.name)!, input, 'lm', this.schema)?.message;
  }

  /** Checks the input, then runs the tool body; a failure is logged and rethrown with its stable code for the model. */
  protected async run(input: T, token: vscode.CancellationToken, body: (signal: AbortSignal) => Promise<string>): Promise<vscode.LanguageModelToolResult> {
    const name = this.name;
    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort(new vscode.CancellationError()));
    const started = Date.now();
    try {
      if (token.isCancellationRequested) throw new vscode.CancellationError();
      checkToolInput(name, input, 'lm', this.schema);
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

  /** The input's fields for a confirmation or progress message, whatever the model sent (`null`, a string…). */
  protected fields(input: T): Partial<T> {
    return input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {};
  }

  /** `workspace` means this window's workspace scope (global without a folder). */
  protected scope(value: string | undefined): string | undefined {
    return toolScope(value, { workspace: this.connection.workspaceScope ?? 'global' });
  }

  /** Scopes to search: `all` (or none) means every scope this window can see (workspace + global). */
  protected scopes(value: string | undefined): string[] {
    return toolScopes(value, { workspace: this.connection.workspaceScope ?? 'global' }) ?? this.connection.scopes;
  }
}
