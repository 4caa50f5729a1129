import { Command, InvalidArgumentError } from 'commander';
import { consolidate, undoConsolidation } from '../../core/upgrade';
import type { CliContext } from '../context';
import { table, truncate } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

const unit = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('--threshold must be a number in (0, 1]');
  return n;
};

/** `consolidate`: merges memories of one scope that say the same thing; `--undo RUN_ID` puts a run back. */
export function registerConsolidateCommand(program: Command, run: Run): void {
  program.command('consolidate')
    .description('merges memories in one scope that say the same thing (similar vectors and shared words, or the same text) into the most complete, newest one; planning takes no lock, members changed meanwhile are skipped; --undo RUN_ID restores a run')
    .option('--scope <scope>', 'only this scope (clusters never cross scopes)')
    .option('--threshold <x>', 'cosine similarity a pair needs, default 0.8', unit)
    .option('--dry-run', 'print the clusters; change nothing')
    .option('--undo <runId>', 'restore the memories a consolidation merged')
    .action((o: { scope?: string; threshold?: number; dryRun?: boolean; undo?: string }) => run(async (ctx) => {
      const store = await ctx.openStore();
      if (o.undo) {
        const r = await undoConsolidation(store, o.undo, { logger: ctx.logger });
        ctx.out.result(r, (x) => `undid ${x.clusters} clusters of run ${x.runId}: ${x.restored} memories restored${x.changedSince.length ? `; ${x.changedSince.length} survivors changed since and were kept (${x.changedSince.join(', ')})` : ''}`);
        return;
      }
      const r = await consolidate(store, { ...(o.scope ? { scope: o.scope } : {}), ...(o.threshold ? { threshold: o.threshold } : {}), ...(o.dryRun ? { dryRun: true } : {}), logger: ctx.logger });
      ctx.out.result(r, (x) => [
        x.dryRun
          ? `would merge ${x.clusters.length} clusters (${x.clusters.reduce((n, c) => n + c.members.length, 0)} memories, ${x.exactDuplicates} exact duplicates) of ${x.scanned} memories`
          : `merged ${x.merged.length} clusters (${x.removed} memories, ${x.exactDuplicates} exact duplicates) of ${x.scanned}; skipped ${x.skipped.length}; run ${x.runId} (undo: consolidate --undo ${x.runId})`,
        ...(x.clusters.length ? ['', table(x.clusters.slice(0, 30).flatMap((c) => [c.survivor, ...c.members].map((id, i) => [i === 0 ? `${c.survivor.slice(0, 12)} (${c.similarity})` : '', i === 0 ? 'keeps' : 'merged', truncate(c.texts[id] ?? '', 80)])), ['cluster', '', 'text'])] : []),
        ...x.skipped.map((s) => `skipped ${s.survivor}: ${s.reason}`),
      ].join('\n'));
    })());
}
