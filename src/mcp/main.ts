import { parseArgs } from 'node:util';
import { runMcpServer } from './server';

// `memory-lane-mcp [--db DIR]`: the same server as `memory-lane mcp`, for MCP client configs.
const { values } = parseArgs({ options: { db: { type: 'string' } }, strict: true });
runMcpServer({ db: values.db }).then(
  () => process.exit(0),
  (err) => { process.stderr.write(`memory-lane-mcp: ${(err as Error).message}\n`); process.exit(1); },
);
