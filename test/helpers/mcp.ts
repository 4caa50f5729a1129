import { join } from 'node:path';
import { repoRoot } from './repo';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const MCP_PATH = join(repoRoot(), 'dist', 'mcp.js');

/**
 * Starts the bundled MCP server as a real child process and connects the SDK's client over stdio.
 * `client` is the clientInfo it initializes with (default memory-lane-test 0.0.0): the writer the
 * server records for this session's writes.
 */
export async function connectMcp(db: string, env: Record<string, string> = {}, options: { client?: { name: string; version: string } } = {}): Promise<{ client: Client; close(): Promise<void>; pid: number | null }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_PATH, '--db', db],
    env: { ...(process.env as Record<string, string>), LANCEDB_LOG: 'error', ...env },
    stderr: 'pipe',
  });
  const client = new Client(options.client ?? { name: 'memory-lane-test', version: '0.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid, close: () => client.close() };
}

/** Calls a tool and returns its structured result; throws with the tool's text when it reports an error. */
export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text?: string }>; structuredContent?: unknown };
  if (r.isError) throw new Error(r.content.map((c) => c.text).join('\n'));
  return r.structuredContent;
}
