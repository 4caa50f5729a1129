import * as vscode from 'vscode';
import { Tools } from '../ids';
import { MemoryTool } from './memoryTool';

export interface UpdateMemoryInput {
  id: string;
  text?: string;
  importance?: number;
  category?: string;
  scope?: string;
}

/** `memory_update`: corrects a memory in place (by id or a unique id prefix); other fields stay. */
export class UpdateMemoryTool extends MemoryTool<UpdateMemoryInput> {
  static readonly id = Tools.update;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<UpdateMemoryInput>): vscode.PreparedToolInvocation {
    const fields = Object.keys(options.input).filter((k) => k !== 'id' && (options.input as unknown as Record<string, unknown>)[k] !== undefined);
    return { invocationMessage: `Updating memory ${options.input.id}${fields.length ? ` (${fields.join(', ')})` : ''}` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<UpdateMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(UpdateMemoryTool.id, token, async (signal) => {
      const service = await this.connection.service();
      const { id, text, importance, category } = options.input;
      const m = await service.update(id, { text, importance, category, scope: this.scope(options.input.scope) }, { signal });
      return `Updated [${m.id}] (revision ${m.rev}).`;
    });
  }
}
