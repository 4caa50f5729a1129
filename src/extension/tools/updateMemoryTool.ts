import * as vscode from 'vscode';
import { MemoryLaneError } from '../../core/errors';
import { Tools } from '../ids';
import { preview } from './format';
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
    const input = this.fields(options.input);
    const fields = Object.keys(input).filter((k) => k !== 'id' && (input as Record<string, unknown>)[k] !== undefined);
    return { invocationMessage: `Updating memory ${preview(input.id, 60)}${fields.length ? ` (${fields.join(', ')})` : ''}` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<UpdateMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(UpdateMemoryTool.id, options.input, token, async (signal) => {
      const { id, text, importance, category, scope } = options.input;
      // Else the answer would be "Updated" for a call that changed nothing.
      if ([text, importance, category, scope].every((v) => v === undefined)) throw new MemoryLaneError('E_INVALID', 'nothing to change: give text, importance, category or scope');
      const service = await this.connection.service();
      const m = await service.update(id, { text, importance, category, scope: this.scope(scope) }, { signal });
      return `Updated [${m.id}] (revision ${m.rev}).`;
    });
  }
}
