import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The store every Memory Lane process uses unless told otherwise: one per user, shared by all
 * VS Code windows, the CLI and MCP servers (so they really share memories). `MEMORY_LANE_DB`
 * overrides it for the CLI and MCP server; the extension has a setting.
 */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MEMORY_LANE_DB?.trim();
  return resolve(fromEnv ? fromEnv : join(homedir(), '.memory-lane', 'store'));
}
