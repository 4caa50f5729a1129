import { Command, InvalidArgumentError, Option } from 'commander';
import { CONSOLIDATE_DEFAULTS } from '../../core/defaults';
import { ValidationError } from '../../core/errors';
import { componentLogger } from '../../core/log';
import type { MemoryStore } from '../../core/store/memoryStore';
import { consolidate, createMerger, embedFnOf, restoreOriginal, undoConsolidation, type ConsolidateProgress, type EmbedFn } from '../../core/upgrade';
import { addBudgetOptions, budgetFromFlags, enricherConfigFromEnv, positiveInt, progressReporter, spentLines, stopOnInterrupt, type BudgetFlags, type ProgressView } from '../backgroundJob';
import type { CliContext } from '../context';
import { table, truncate } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

const unit = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('--threshold must be a number in (0, 1]');
  return n;
};

const CONSOLIDATE_PROGRESS: ProgressView<ConsolidateProgress> = {
  barFormat: 'consolidate |{bar}| {value}/{total} clusters · {phase} · {merged} merged · {skipped} skipped',
  total: (p) => p.clustersTotal,
  value: (p) => p.clustersDone,
  fields: (p) => ({ phase: p.phase === 'planning' ? `planning (${p.scanned} read)` : p.phase, merged: p.merged, skipped: p.skipped }),
  line: (p) => `consolidate: ${p.phase} — ${p.scanned} memories read, ${p.clustersDone}/${p.clustersTotal} clusters settled, ${p.merged} merged, ${p.skipped} skipped`,
};

/** `consolidate`: merges memories of one scope that say the same thing; `--undo RUN_ID` puts a run back, `--restore ID` one memory. */
export function registerConsolidateCommand(program: Command, run: Run): void {
  const command = program.command('consolidate')
    .description('merges memories in one scope that say the same thing (similar vectors and shared words, or the same text) into one; planning takes no lock, clusters whose members changed meanwhile are skipped; resumable, Ctrl-C stops after whole steps; --undo RUN_ID restores a run, --restore ID one memory')
    .option('--scope <scope>', 'only this scope (clusters never cross scopes)')
    .option('--threshold <x>', `cosine similarity a pair needs, default ${CONSOLIDATE_DEFAULTS.threshold}`, unit)
    .option('--dry-run', 'print the clusters; change nothing, call no model')
    .addOption(new Option('--merger <kind>', 'who writes the merged memory: local (the most complete, newest text; default) or openai (MEMORY_LANE_LLM_BASE_URL, _MODEL, _API_KEY, as upgrade --enricher openai)').choices(['local', 'openai']).default('local'))
    .option('--llm', 'same as --merger openai')
    .option('--batch-size <n>', `clusters per write step, default ${CONSOLIDATE_DEFAULTS.batchClusters}`, positiveInt('--batch-size', 500));
  addBudgetOptions(command, 'tokens the merger may spend in this run; it stops after whole clusters, a rerun continues')
    .option('--resume <runId>', 'continue a stopped run (its journal, so one --undo covers it; merges it paid for are not asked again)')
    .option('--undo <runId>', 'restore the memories a consolidation merged')
    .option('--restore <memoryId>', 'restore one merged memory as it was, from the run that merged it')
    .action((o: { scope?: string; threshold?: number; dryRun?: boolean; merger: 'local' | 'openai'; llm?: boolean; batchSize?: number; resume?: string; undo?: string; restore?: string } & BudgetFlags) => run(async (ctx) => {
      if ([o.undo, o.restore, o.resume].filter((x) => x !== undefined).length > 1) throw new ValidationError('--undo/--restore/--resume', 'take one of them at a time');
      if (o.undo || o.restore) {
        const store = await ctx.openStore();
        if (o.undo) {
          const r = await undoConsolidation(store, o.undo, { logger: ctx.logger });
          ctx.out.result(r, (x) => `undid ${x.clusters} clusters of run ${x.runId}: ${x.restored} memories restored${x.changedSince.length ? `; ${x.changedSince.length} survivors changed since and were kept (${x.changedSince.join(', ')})` : ''}`);
        } else {
          const r = await restoreOriginal(store, o.restore!, { logger: ctx.logger });
          ctx.out.result(r, (x) => `restored ${x.restored} as it was before run ${x.runId} merged it into ${x.survivor}`);
        }
        return;
      }
      const kind = o.llm ? 'openai' : o.merger;
      let store: MemoryStore;
      let embed: EmbedFn | undefined;
      if (kind === 'openai') {
        // A merged text gets a new vector: the service knows the store's embedder.
        const service = await ctx.openService();
        store = service.memoryStore;
        const embedder = service.activeEmbedder;
        if (!embedder && !o.dryRun) throw new ValidationError('embedding', 'no embedder usable for this store (run the re-embed upgrade first); a merged text needs a vector');
        if (embedder) embed = embedFnOf(embedder);
      } else {
        store = await ctx.openStore();
      }
      const interrupt = stopOnInterrupt(ctx, 'consolidate: stopping after the step in flight…');
      const progress = progressReporter(ctx, CONSOLIDATE_PROGRESS);
      try {
        const r = await consolidate(store, {
          ...(o.scope ? { scope: o.scope } : {}),
          ...(o.threshold ? { threshold: o.threshold } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          ...(o.batchSize ? { batchClusters: o.batchSize } : {}),
          ...(o.resume ? { resume: o.resume } : {}),
          ...(kind === 'openai' ? { merger: createMerger(enricherConfigFromEnv('openai', process.env, o.llm ? '--llm' : '--merger openai'), componentLogger(ctx.logger, 'merge')) } : {}),
          ...(embed ? { embed } : {}),
          budget: budgetFromFlags(o),
          signal: interrupt.signal,
          logger: ctx.logger,
          onProgress: (p) => progress.update(p),
        });
        progress.stop();
        ctx.out.result(r, (x) => [
          x.dryRun
            ? `would merge ${x.clusters.length} clusters (${x.clusters.reduce((n, c) => n + c.members.length, 0)} memories, ${x.exactDuplicates} exact duplicates) of ${x.scanned} memories`
            : `merged ${x.merged.length} clusters (${x.removed} memories, ${x.exactDuplicates} exact duplicates) of ${x.scanned}; skipped ${x.skipped.length}; run ${x.runId} (undo: consolidate --undo ${x.runId})${x.cancelled ? ` — cancelled; continue with consolidate --resume ${x.runId}` : ''}`,
          ...spentLines(x),
          ...(x.estimate ? [`estimate: ~${x.estimate.tokens.in.toLocaleString('en-US')} in + ${x.estimate.tokens.out.toLocaleString('en-US')} out tokens in ${x.estimate.calls} merges (${x.estimate.method === 'measured' ? 'measured tokens per cluster from earlier runs' : 'estimated at 4 characters per token'})${x.estimate.cost !== undefined ? `, cost ~${x.estimate.cost}` : ''}`] : []),
          ...(x.stoppedBy ? [`stopped by the budget: ${x.stoppedBy.message} (${x.pending} clusters left; consolidate --resume ${x.runId} continues this run)`] : []),
          ...(x.clusters.length ? ['', table(x.clusters.slice(0, 30).flatMap((c) => [c.survivor, ...c.members].map((id, i) => [i === 0 ? `${c.survivor.slice(0, 12)} (${c.similarity})` : '', i === 0 ? 'keeps' : 'merged', truncate(c.texts[id] ?? '', 80)])), ['cluster', '', 'text'])] : []),
          ...x.skipped.map((s) => `skipped ${s.survivor}: ${s.reason}`),
        ].join('\n'));
      } finally {
        progress.stop();
        interrupt.dispose();
      }
    })());
}
