import * as vscode from 'vscode';
import type { StoreToolInput } from '../../core/tools/contract';
import { Tools } from '../ids';
import { preview, scopeLabel } from './format';
import { lmToolWriter } from '../writers';
import { MemoryTool } from './memoryTool';

/** `scope`: `workspace` (default), `global`, or a scope such as `project:api`. */
export type StoreMemoryInput = StoreToolInput;

/** `memory_store`: keeps a fact, preference, decision or lesson for later sessions. */
export class StoreMemoryTool extends MemoryTool<StoreMemoryInput> {
  static readonly id = Tools.store;
  protected readonly name = StoreMemoryTool.id;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<StoreMemoryInput>): vscode.PreparedToolInvocation {
    const input = this.fields(options.input);
    const where = input.scope === 'global' ? 'global memory' : 'memory';
    return { invocationMessage: `Storing in ${where}: “${preview(input.text ?? '', 80)}”` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<StoreMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(options.input, token, async (signal) => {
      const service = await this.connection.service();
      const { text, category, importance, id, force, context } = options.input;
      const r = await service.store({ text, category, importance, id, force, context, scope: this.scope(options.input.scope), writer: lmToolWriter(options), signal });
      const ws = this.connection.workspaceScope;
      if (r.status === 'duplicate') {
        return `Not stored: memory [${r.duplicateOf}] (${scopeLabel(r.existing.scope, ws)}) already says nearly the same (similarity ${r.similarity.toFixed(2)}). Update it with ${Tools.update}, or store again with force: true.`;
      }
      return r.status === 'stored' ? `Stored as [${r.id}].` : `Already stored as [${r.id}] (same id and text).`;
    });
  }
}
