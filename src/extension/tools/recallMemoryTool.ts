import * as vscode from 'vscode';
import { Tools } from '../ids';
import { formatRecall, preview } from './format';
import { MemoryTool } from './memoryTool';

export interface RecallMemoryInput {
  query: string;
  limit?: number;
  category?: string | string[];
  /** `all` (default: workspace + global), `workspace`, `global`, or a scope such as `project:api`. */
  scope?: string;
  /** Full texts instead of the upgraded one-sentence abstracts. */
  full?: boolean;
}

/** `memory_recall`: the memories most relevant to a query, as quoted data with their ids. */
export class RecallMemoryTool extends MemoryTool<RecallMemoryInput> {
  static readonly id = Tools.recall;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<RecallMemoryInput>): vscode.PreparedToolInvocation {
    return { invocationMessage: `Recalling memories about “${preview(this.fields(options.input).query ?? '', 80)}”` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<RecallMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(RecallMemoryTool.id, options.input, token, async (signal) => {
      const service = await this.connection.service();
      const { query, limit, category, full } = options.input;
      const r = await service.recall(query, { limit, category, full, scopes: this.scopes(options.input.scope), signal });
      return formatRecall(query, r.results, this.connection.workspaceScope, r.notes);
    });
  }
}
