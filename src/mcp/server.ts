import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { embedderConfigFromEnv } from '../core/embedding';
import { stderrLogger, parseLogLevel, componentLogger, type Logger } from '../core/log';
import { MemoryService } from '../core/memoryService';
import { defaultStorePath } from '../core/paths';
import { memoryToolDescriptions, memoryToolHandlers, memoryToolSchemas, toolError } from './tools';

export const MCP_SERVER_NAME = 'memory-lane';
const VERSION = '0.1.0';

/** Registers the six memory tools on an MCP server. */
export function createMemoryMcpServer(service: MemoryService): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version: VERSION });
  const handlers = memoryToolHandlers(service);
  for (const name of Object.keys(memoryToolSchemas) as Array<keyof typeof memoryToolSchemas>) {
    const handler = handlers[name]!;
    server.registerTool(name, { description: memoryToolDescriptions[name], inputSchema: memoryToolSchemas[name] }, async (args: unknown) => {
      try {
        return await handler(args ?? {});
      } catch (err) {
        return toolError(err);
      }
    });
  }
  return server;
}

export interface McpServerOptions {
  db?: string;
  /** Scopes recall searches by default (MEMORY_LANE_SCOPES, comma-separated), e.g. "project:api,global". */
  scopes?: string[];
  logger?: Logger;
}

/**
 * Runs the stdio MCP server until stdin closes or SIGTERM/SIGINT; then flushes pending recall
 * bookkeeping and closes the store, so no acknowledged write is lost on shutdown.
 */
export async function runMcpServer(options: McpServerOptions = {}): Promise<void> {
  const log = options.logger ?? stderrLogger(parseLogLevel(process.env.MEMORY_LANE_LOG, 'warn'));
  const scopes = options.scopes ?? process.env.MEMORY_LANE_SCOPES?.split(',').map((s) => s.trim()).filter(Boolean);
  const service = await MemoryService.open({
    dir: options.db ? defaultStorePath({ MEMORY_LANE_DB: options.db }) : defaultStorePath(),
    embedding: embedderConfigFromEnv(),
    logger: componentLogger(log, 'mcp'),
    source: 'mcp',
    ...(scopes?.length ? { defaultScopes: scopes } : {}),
  });
  const server = createMemoryMcpServer(service);
  const transport = new StdioServerTransport();
  let closing: Promise<void> | undefined;
  const shutdown = (why: string) => {
    closing ??= (async () => {
      log.info(`[mcp] shutting down (${why})`);
      try { await server.close(); } catch { /* transport already gone */ }
      await service.close();
    })();
    return closing;
  };
  await server.connect(transport);
  await new Promise<void>((resolve) => {
    process.stdin.once('end', () => void shutdown('stdin closed').then(resolve));
    process.stdin.once('close', () => void shutdown('stdin closed').then(resolve));
    process.once('SIGTERM', () => void shutdown('SIGTERM').then(resolve));
    process.once('SIGINT', () => void shutdown('SIGINT').then(resolve));
  });
}
