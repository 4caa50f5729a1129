import type { Command } from 'commander';
import { runMcpServer } from '../../mcp/server';

/** `mcp`: runs the stdio MCP server on the same store (what MCP client configs start). */
export function registerMcpCommand(program: Command): void {
  program.command('mcp')
    .description('runs the stdio MCP server (tools memory_store, memory_recall, memory_update, memory_forget, memory_list, memory_stats)')
    .action(async () => {
      const { db } = program.opts<{ db?: string }>();
      await runMcpServer({ db });
    });
}
