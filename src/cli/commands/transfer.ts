import type { Command } from 'commander';
import { exportBackup } from '../../core/store/backup';
import type { CliContext } from '../context';
import { formatBytes } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

/** `export FILE`: a consistent backup of every row in every scope (restored by `import FILE`). */
export function registerExportCommand(program: Command, run: Run): void {
  program.command('export')
    .argument('<file>', 'where to write the backup (JSONL: a header line, then one memory per line)')
    .description('writes a consistent snapshot of every memory, every scope, vectors included')
    .action((file: string) => run(async (ctx) => {
      const result = await exportBackup(await ctx.openStore(), file);
      ctx.out.result(result, (r) => `exported ${r.rows} memories (table version ${r.tableVersion}) to ${r.file} (${formatBytes(r.bytes)})`);
    })());
}
