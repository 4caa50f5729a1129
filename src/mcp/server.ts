import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ErrorCode, GetPromptRequestSchema, ListPromptsRequestSchema, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { embedderConfigFromEnv } from '../core/embedding';
import { stderrLogger, parseLogLevel, componentLogger, type Logger } from '../core/log';
import { MemoryService } from '../core/memoryService';
import { defaultStorePath } from '../core/paths';
import { checkToolInput, toolDescription, toolInputSchema, toolsFor, type ToolName } from '../core/tools/contract';
import { agentGuidance } from '../core/guidance';
import { requireApprovalFromEnv, type Writer } from '../core/provenance';
import { memoryToolHandlers, toolError } from './tools';
import { MEMORY_PROMPTS, memoryPrompt } from './prompts';
import { PRODUCT_VERSION } from '../core/version';
import { resolveLockSettings } from '../core/defaults';
import { lockStoreOptions } from '../core/store/memoryStore';

export const MCP_SERVER_NAME = 'memory-lane';

/**
 * Serves the tool contract's MCP tools. The SDK's low-level Server rather than McpServer: McpServer
 * checks arguments against zod schemas before a handler runs and answers a mistake with its own
 * "MCP error -32602: Input validation error" text. Here the contract checks them, so an MCP client
 * gets the same `E_INVALID: limit: must be an integer from 1 to 50, got 0` as a model in VS Code,
 * and tools/list shows exactly the JSON Schema that package.json's Language Model tools declare.
 *
 * The initialize result carries the agent guidance as `instructions` (src/core/guidance.ts, the same
 * words VS Code's chat instructions use), and the `remember` / `recall` prompts. Every write records
 * the client that initialized the session (its `clientInfo` name and version) as the writer.
 */
export function createMemoryMcpServer(service: MemoryService): Server {
  const server = new Server(
    { name: MCP_SERVER_NAME, version: PRODUCT_VERSION },
    { capabilities: { tools: {}, prompts: {} }, instructions: agentGuidance('mcp') },
  );
  const tools = toolsFor('mcp');
  // Read per call: clientInfo is known only once the client has initialized.
  const writer = (): Partial<Writer> => {
    const info = server.getClientVersion();
    return { kind: 'mcp', ...(info?.name ? { client: { name: info.name, ...(info.version ? { version: info.version } : {}) } } : {}) };
  };
  const handlers = memoryToolHandlers(service, writer);
  server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: MEMORY_PROMPTS }));
  server.setRequestHandler(GetPromptRequestSchema, (request) => memoryPrompt(request.params.name, request.params.arguments ?? {}));
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.map((tool) => ({ name: tool.name, description: toolDescription(tool, 'mcp'), inputSchema: toolInputSchema(tool, 'mcp') as { type: 'object' } })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const name = request.params.name as ToolName;
    // An unknown tool is a protocol error (the client's list is stale), not a tool failure to show the model.
    if (!tools.some((t) => t.name === name)) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
    try {
      const handler = handlers[name] as (input: unknown) => ReturnType<(typeof handlers)[ToolName]>;
      return await handler(checkToolInput(name, request.params.arguments ?? {}, 'mcp'));
    } catch (err) {
      return toolError(err);
    }
  });
  return server;
}

export interface McpServerOptions {
  db?: string;
  /** Scopes recall searches by default (MEMORY_LANE_SCOPES, comma-separated), e.g. "project:api,global". */
  scopes?: string[];
  /** Hold agents' unreviewed memories out of other clients' recall (default: MEMORY_LANE_REQUIRE_APPROVAL). */
  requireApproval?: boolean;
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
    requireApproval: options.requireApproval ?? requireApprovalFromEnv(process.env),
    // The window that defines this server passes its lock settings (MEMORY_LANE_LOCK_*), so every
    // process on the store agrees on deadlines and on when a holder is stale.
    storeOptions: lockStoreOptions(resolveLockSettings({}, process.env)),
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
