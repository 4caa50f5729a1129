import * as vscode from 'vscode';
import { TOOL_LIMITS, type RecallToolInput } from '../../core/tools/contract';
import { Tools } from '../ids';
import { formatRecall, preview } from './format';
import { lmToolWriter } from '../writers';
import { MemoryTool } from './memoryTool';

/** `scope`: `all` (default: workspace + global), `workspace`, `global`, or a scope such as `project:api`. */
export type RecallMemoryInput = RecallToolInput;

/** `memory_recall`: the memories most relevant to a query, as quoted data with their ids. */
export class RecallMemoryTool extends MemoryTool<RecallMemoryInput> {
  static readonly id = Tools.recall;
  protected readonly name = RecallMemoryTool.id;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<RecallMemoryInput>): vscode.PreparedToolInvocation {
    return { invocationMessage: `Recalling memories about “${preview(this.fields(options.input).query ?? '', 80)}”` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<RecallMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(options.input, token, async (signal) => {
      const service = await this.connection.service();
      const { query, limit, category, full, minScore } = options.input;
      const r = await service.recall(query, { limit: limit ?? TOOL_LIMITS.recall.default, category, full, minScore, scopes: this.scopes(options.input.scope), caller: lmToolWriter(options), signal });
      return formatRecall(query, r.results, this.connection.workspaceScope, r.notes);
    });
  }
}
