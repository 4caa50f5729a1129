import { Command, Option } from 'commander';
import { UPGRADE_DEFAULTS } from '../../core/defaults';
import { createEnricher, createUpgradeRun, type UpgradeProgress } from '../../core/upgrade';
import { addBudgetOptions, budgetFromFlags, count, enricherConfigFromEnv, positiveInt, progressReporter, spentLines, stopOnInterrupt, type BudgetFlags, type ProgressView } from '../backgroundJob';
import type { CliContext } from '../context';
import { table, truncate } from '../output';
import { componentLogger } from '../../core/log';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

const UPGRADE_PROGRESS: ProgressView<UpgradeProgress> = {
  barFormat: 'upgrade |{bar}| {value}/{total} rows · {phase} · {rate} rows/s · ETA {eta_formatted} · {failed} failed',
  total: (p) => p.candidates,
  value: (p) => p.written + p.skipped + p.failed,
  fields: (p) => ({ phase: p.phase, rate: p.rate.toFixed(0), failed: p.failed }),
  line: (p) => `upgrade: ${p.phase} — ${p.written}/${p.candidates} written, ${p.skipped} skipped, ${p.failed} failed, ${p.rate.toFixed(0)} rows/s${p.etaMs !== undefined ? `, ETA ${Math.ceil(p.etaMs / 1000)} s` : ''}`,
};

/** `upgrade`: enriches legacy memories in the background-safe two-phase way (LLM work never under the lock). */
export function registerUpgradeCommand(program: Command, run: Run): void {
  const command = program.command('upgrade')
    .description('enriches legacy memories (abstract, overview, cleaned content, category); resumable, Ctrl-C stops after whole batches')
    .option('--batch-size <n>', `rows per write batch (= per lock), default ${UPGRADE_DEFAULTS.batchSize}`, positiveInt('--batch-size', 256))
    .option('--concurrency <n>', 'entries enriched at once', positiveInt('--concurrency', 64))
    .addOption(new Option('--enricher <kind>', 'local (offline, default) or openai (MEMORY_LANE_LLM_BASE_URL, _MODEL, _API_KEY)').choices(['local', 'openai']).default('local'))
    .option('--dry-run', 'report what would change; write nothing')
    .option('--force', 'also re-enrich memories enriched by the local heuristic (use with --enricher openai)');
  addBudgetOptions(command, 'tokens (prompt + completion) this run may spend; it stops after whole batches, a rerun resumes')
    .action((o: { batchSize?: number; concurrency?: number; enricher: 'local' | 'openai'; dryRun?: boolean; force?: boolean } & BudgetFlags) => run(async (ctx) => {
      const store = await ctx.openStore();
      const interrupt = stopOnInterrupt(ctx, 'upgrade: stopping after the batch in flight…');
      const progress = progressReporter(ctx, UPGRADE_PROGRESS);
      try {
        const upgrade = createUpgradeRun(store, {
          enricher: createEnricher(enricherConfigFromEnv(o.enricher), componentLogger(ctx.logger, 'enrich')),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          ...(o.force ? { force: true } : {}),
          budget: budgetFromFlags(o),
          signal: interrupt.signal,
          logger: ctx.logger,
          onProgress: (p) => progress.update(p),
        });
        const result = await upgrade.run();
        progress.stop();
        ctx.out.result(result, (r) => [
          `${r.dryRun ? 'would upgrade' : 'upgraded'} ${r.upgraded} of ${r.candidates} legacy memories (${r.scanned} scanned), skipped ${r.skipped}, failed ${r.failed.length}${r.cancelled ? ' — cancelled; run again to resume' : ''}${r.aborted ? ` — stopped: ${r.aborted}` : ''}`,
          ...spentLines(r),
          ...(r.stoppedBy ? [`stopped by the budget: ${r.stoppedBy.message}`] : []),
          ...(r.estimate ? [`estimate: ~${count(r.estimate.tokens.in)} in + ${count(r.estimate.tokens.out)} out tokens in ${r.estimate.calls} calls (${r.estimate.method === 'measured' ? 'measured tokens per row from earlier runs' : 'estimated at 4 characters per token'}; ~${count(r.estimate.perRow.in + r.estimate.perRow.out)} per memory)${r.estimate.cost !== undefined ? `, cost ~${r.estimate.cost}` : ''}${r.estimate.budgetAllows ? `; the ${r.estimate.budgetAllows.budget} lets ${r.estimate.budgetAllows.rows} of them through` : ''}`] : []),
          ...(r.failed.length ? ['', table(r.failed.slice(0, 20).map((f) => [f.id.slice(0, 12), truncate(f.reason, 90)]), ['id', 'reason'])] : []),
        ].join('\n'));
        if (result.failed.length > 0 || result.aborted) process.exitCode = 1;
      } finally {
        progress.stop();
        interrupt.dispose();
      }
    })());
}
