import * as vscode from 'vscode';
import { TOOL_LIMITS, type ListToolInput } from '../../core/tools/contract';
import { Tools } from '../ids';
import { formatList, preview } from './format';
import { MemoryTool } from './memoryTool';

/** `scope`: `all` (default: workspace + global), `workspace`, `global`, or a scope such as `project:api`. */
export type ListMemoriesInput = ListToolInput;

/** `memory_list`: pages through memories, newest first, with filters. */
export class ListMemoriesTool extends MemoryTool<ListMemoriesInput> {
  static readonly id = Tools.list;
  protected readonly name = ListMemoriesTool.id;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<ListMemoriesInput>): vscode.PreparedToolInvocation {
    const { scope } = this.fields(options.input);
    return { invocationMessage: `Listing ${typeof scope === 'string' && scope !== 'all' ? `${preview(scope, 40)} ` : ''}memories` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<ListMemoriesInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(options.input, token, async () => {
      const service = await this.connection.service();
      const { category, legacy, writer, sort, offset } = options.input;
      const page = await service.list({ scopes: this.scopes(options.input.scope), category, legacy, writer, sort, offset, limit: options.input.limit ?? TOOL_LIMITS.list.default });
      return formatList(page.items, page.total, page.offset, this.connection.workspaceScope);
    });
  }
}
