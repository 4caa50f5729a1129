import * as vscode from 'vscode';
import type { ListSort } from '../../core/memoryService';
import { Tools } from '../ids';
import { formatList, preview } from './format';
import { MemoryTool } from './memoryTool';

export interface ListMemoriesInput {
  /** `all` (default: workspace + global), `workspace`, `global`, or a scope such as `project:api`. */
  scope?: string;
  category?: string | string[];
  legacy?: boolean;
  sort?: ListSort;
  limit?: number;
  offset?: number;
}

/** `memory_list`: pages through memories, newest first, with filters. */
export class ListMemoriesTool extends MemoryTool<ListMemoriesInput> {
  static readonly id = Tools.list;

  prepareInvocation(options: vscode.LanguageModelToolInvocationPrepareOptions<ListMemoriesInput>): vscode.PreparedToolInvocation {
    const { scope } = this.fields(options.input);
    return { invocationMessage: `Listing ${typeof scope === 'string' && scope !== 'all' ? `${preview(scope, 40)} ` : ''}memories` };
  }

  async invoke(options: vscode.LanguageModelToolInvocationOptions<ListMemoriesInput>, token: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    return this.run(ListMemoriesTool.id, options.input, token, async () => {
      const service = await this.connection.service();
      const { category, legacy, sort, offset } = options.input;
      const page = await service.list({ scopes: this.scopes(options.input.scope) ?? this.connection.scopes, category, legacy, sort, offset, limit: options.input.limit ?? 20 });
      return formatList(page.items, page.total, page.offset, this.connection.workspaceScope);
    });
  }
}
