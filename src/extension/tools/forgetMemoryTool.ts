import * as vscode from 'vscode';
import { errorMessage } from '../../core/errors';
import { TOOL_LIMITS, type ForgetToolInput } from '../../core/tools/contract';
import { Tools } from '../ids';
import { preview } from './format';
import { lmToolWriter } from '../writers';
import { MemoryTool } from './memoryTool';

/** No `confirm`: the person confirms in VS Code's dialog, which prepareInvocation fills. */
export type ForgetMemoryInput = Omit<ForgetToolInput, 'confirm'>;

/**
 * `memory_forget`: deletes memories, always after the person confirms. prepareInvocation reads
 * (never writes) what would go, so the confirmation names it.
 */
export class ForgetMemoryTool extends MemoryTool<ForgetMemoryInput> {
  static readonly id = Tools.forget;
  protected readonly name = ForgetMemoryTool.id;

  async prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<ForgetMemoryInput>): Promise<vscode.PreparedToolInvocation> {
    const problem = this.inputProblem(options.input);
    // Nothing can be deleted: invoke refuses the same input with this reason, so no confirmation.
    if (problem) return { invocationMessage: `Not forgetting: ${problem}` };
    const { id, query } = options.input;
    const message = new vscode.MarkdownString();
    let title = 'Forget a memory?';
    try {
      const service = await this.connection.existingService();
      if (id && service) {
        const m = await service.get(id);
        message.appendMarkdown(`An agent wants to delete memory \`${m.id}\` (${m.category}, ${m.scope}):\n\n`).appendText(`“${preview(m.text, 300)}”`);
      } else if (query && service) {
        const r = await service.forgetByQuery(query, { confirm: false, limit: options.input.limit ?? TOOL_LIMITS.forgetByQuery.default });
        title = r.candidates.length === 1 ? 'Forget 1 memory?' : `Forget ${r.candidates.length} memories?`;
        message.appendMarkdown('An agent wants to delete the memories matching ').appendText(`“${preview(query, 80)}”`).appendMarkdown(':\n\n');
        for (const c of r.candidates) message.appendMarkdown(`- \`${c.id}\` `).appendText(preview(c.text, 100)).appendMarkdown('\n');
      } else {
        message.appendText(`An agent wants to delete ${id ? `memory ${id}` : `the memories matching “${preview(query ?? '', 80)}”`}.`);
      }
    } catch (err) {
      message.appendText(`An agent wants to delete ${id ? `memory ${id}` : 'memories'} (${errorMessage(err)}).`);
    }
    return {
      invocationMessage: id ? `Forgetting memory ${id}` : `Forgetting memories about “${preview(query ?? '', 60)}”`,
      confirmationMessages: { title, message },
    };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<ForgetMemoryInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(options.input, token, async () => {
      const { id, query } = options.input;
      const service = await this.connection.service();
      if (id) {
        const r = await service.forget(id, { writer: lmToolWriter(options) });
        return r.deleted ? `Forgot [${r.id}].` : `Nothing to forget: [${r.id}] was already gone.`;
      }
      const r = await service.forgetByQuery(query!, { confirm: true, limit: options.input.limit ?? TOOL_LIMITS.forgetByQuery.default, writer: lmToolWriter(options) });
      const failed = r.failed.length ? ` ${r.failed.length} could not be deleted: ${r.failed.map((f) => `[${f.id}] ${f.reason}`).join('; ')}` : '';
      return r.deleted.length ? `Forgot ${r.deleted.length}: ${r.deleted.map((d) => `[${d}]`).join(', ')}.${failed}` : `No memory matched; nothing was deleted.${failed}`;
    });
  }
}
