import { Command, CommanderError } from 'commander';
import { CliContext } from './context';
import { CliOutput } from './output';
import { registerHealthCommands } from './commands/health';
import { registerTransferCommands } from './commands/transfer';
import { registerMemoryCommands } from './commands/memories';
import { registerUpgradeCommand } from './commands/upgrade';
import { registerConsolidateCommand } from './commands/consolidate';
import { registerMcpCommand } from './commands/mcp';
import { PRODUCT_VERSION } from '../core/version';
import { LOCK_DEFAULTS, LOCK_ENV } from '../core/defaults';


/**
 * `memory-lane [--db DIR] <command> [options] [--json]`. Each command module registers its
 * commands; `run` wraps an action so that every command shares one error and exit-code policy.
 */
export async function runCli(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const out = new CliOutput(json);
  let exitCode = 0;
  let ctx: CliContext | undefined;
  const program = new Command('memory-lane')
    .description('Long-term memory for AI agents: the same LanceDB store the VS Code extension and MCP servers use.')
    .version(PRODUCT_VERSION)
    .option('--db <dir-or-uri>', 'store folder or remote store URI, e.g. s3+ddb://bucket/path?ddbTableName=T (default: $MEMORY_LANE_DB or ~/.memory-lane/store)')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-v, --verbose', 'debug logs on stderr')
    .option('--lock-timeout <ms>', `how long a write waits for the store lock (default $${LOCK_ENV.writeTimeoutMs} or ${LOCK_DEFAULTS.writeTimeoutMs})`)
    .option('--lock-background-timeout <ms>', `how long background work waits for the store lock (default $${LOCK_ENV.backgroundTimeoutMs} or ${LOCK_DEFAULTS.backgroundTimeoutMs})`)
    .option('--lock-stale <ms>', `a lock holder silent this long is taken over (default $${LOCK_ENV.staleMs} or ${LOCK_DEFAULTS.staleMs})`)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program.enablePositionalOptions(false);

  const run = (fn: (ctx: CliContext) => Promise<void>) => async () => {
    ctx = CliContext.fromOptions(program.opts(), out);
    await fn(ctx);
  };
  registerMemoryCommands(program, run);
  registerTransferCommands(program, run);
  registerUpgradeCommand(program, run);
  registerConsolidateCommand(program, run);
  registerHealthCommands(program, run);
  registerMcpCommand(program);
  for (const register of extraCommandRegistrations) register(program, run);
  program.commands.forEach((c) => c.exitOverride());

  try {
    await program.parseAsync(argv);
    exitCode = Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors already printed their reason.
      if (err.exitCode === 0) return 0;
      if (json) out.failure(new Error(err.message.replace(/^error: /, '')));
      return err.exitCode || 1;
    }
    exitCode = out.failure(err);
  } finally {
    await ctx?.close().catch((e) => out.note(`memory-lane: closing the store failed: ${(e as Error).message}`));
  }
  return exitCode;
}

type Registration = (program: Command, run: (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>) => void;
const extraCommandRegistrations: Registration[] = [];
