import { Option, type Command } from 'commander';
import { exportBackup, isBackupFile, restoreBackup } from '../../core/store/backup';
import { importFrom, type ImportFormat } from '../../core/upgrade';
import { statSync } from 'node:fs';
import type { CliContext } from '../context';
import { formatBytes, table, truncate } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

/** `export FILE`: a consistent backup of every row in every scope (restored by `import FILE`); `import FILE`. */
export function registerTransferCommands(program: Command, run: Run): void {
  program.command('import')
    .argument('<file>', 'a Memory Lane backup, a JSONL file, an MCP memory-server graph (JSONL) or a memory-lancedb-pro database folder')
    .description('imports memories (they arrive legacy; run `upgrade` to enrich them); re-importing changes nothing')
    .addOption(new Option('--format <format>', 'detected when omitted').choices(['backup', 'jsonl', 'mcp-memory', 'lancedb-pro']))
    .option('--scope <scope>', 'put every imported memory in this scope')
    .action((file: string, o: { format?: 'backup' | 'jsonl' | 'mcp-memory' | 'lancedb-pro'; scope?: string }) => run(async (ctx) => {
      const service = await ctx.openService({ create: true });
      const store = service.memoryStore;
      const isFile = statSync(file).isFile();
      if (o.format === 'backup' || (!o.format && isFile && (await isBackupFile(file)))) {
        const r = await restoreBackup(store, file);
        ctx.out.result({ format: 'backup', imported: r.restored, existing: r.existing, failed: r.failed },
          (v) => `restored ${v.imported}, already present ${v.existing}, failed ${v.failed.length}${v.failed.slice(0, 20).map((f) => `\n  line ${f.line}: ${f.reason}`).join('')}`);
        if (r.failed.length) process.exitCode = 1;
        return;
      }
      const formats: Record<string, ImportFormat> = { jsonl: 'jsonl', 'mcp-memory': 'mcp-knowledge-graph', 'lancedb-pro': 'memory-lancedb-pro' };
      const embedder = service.activeEmbedder;
      const result = await importFrom(store, file, {
        format: o.format ? formats[o.format] : 'auto',
        ...(embedder ? { embed: (texts: string[]) => embedder.embed(texts) } : {}),
        ...(o.scope ? { scope: o.scope } : {}),
        writer: service.writerFor({ kind: 'import' }),
      });
      ctx.out.result(result, (r) => [
        `imported ${r.imported} (${r.format}), already present ${r.existing}, malformed ${r.malformed.length}`,
        ...(r.malformed.length ? ['', table(r.malformed.slice(0, 20).map((m) => [String(m.line), truncate(m.reason, 90)]), ['line', 'problem'])] : []),
      ].join('\n'));
    })());

  program.command('export')
    .argument('<file>', 'where to write the backup (JSONL: a header line, then one memory per line)')
    .description('writes a consistent snapshot of every memory, every scope, vectors included')
    .action((file: string) => run(async (ctx) => {
      const result = await exportBackup(await ctx.openStore(), file);
      ctx.out.result(result, (r) => `exported ${r.rows} memories (table version ${r.tableVersion}) to ${r.file} (${formatBytes(r.bytes)})`);
    })());
}
