import * as vscode from 'vscode';
import type { UpdateToolInput } from '../../core/tools/contract';
import { Tools } from '../ids';
import { preview } from './format';
import { lmToolWriter } from '../writers';
import { MemoryTool } from './memoryTool';

export type UpdateMemoryInput = UpdateToolInput;

/** `memory_update`: corrects a memory in place (by id or a unique id prefix); other fields stay. */
export class UpdateMemoryTool extends MemoryTool<UpdateMemoryInput> {
  static readonly id = Tools.update;
  protected readonly name = UpdateMemoryTool.id;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<UpdateMemoryInput>): vscode.PreparedToolInvocation {
    const input = this.fields(options.input);
    const fields = Object.keys(input).filter((k) => k !== 'id' && (input as Record<string, unknown>)[k] !== undefined);
    return { invocationMessage: `Updating memory ${preview(input.id, 60)}${fields.length ? ` (${fields.join(', ')})` : ''}` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<UpdateMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(options.input, token, async (signal) => {
      const { id, text, importance, category, scope } = options.input;
      const service = await this.connection.service();
      const m = await service.update(id, { text, importance, category, scope: this.scope(scope) }, { signal, writer: lmToolWriter(options) });
      return `Updated [${m.id}] (revision ${m.rev}).`;
    });
  }
}
