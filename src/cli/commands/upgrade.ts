import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { BUDGET_DEFAULTS } from '../../core/defaults';
import { ValidationError } from '../../core/errors';
import { createEnricher, createUpgradeRun, type EnricherConfig, type UpgradeProgress } from '../../core/upgrade';
import type { CliContext } from '../context';
import { table, truncate } from '../output';
import { componentLogger } from '../../core/log';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

export const positiveInt = (name: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
  return n;
};

export const price = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || value.trim() === '') throw new InvalidArgumentError('--price-per-1k must be a number ≥ 0 (the price of 1000 tokens)');
  return n;
};

const count = (n: number) => n.toLocaleString('en-US');

/** Tokens and calls so far, with the spend against the token budget when there is one. */
export function spendText(p: Pick<UpgradeProgress, 'tokens' | 'calls' | 'budget' | 'cost'>): string {
  if (!p.calls) return '';
  const t = p.tokens ?? { in: 0, out: 0 };
  const budget = p.budget?.tokens ? ` of ${count(p.budget.tokens)}` : '';
  return `${count(t.in)} in + ${count(t.out)} out tokens${budget}, ${p.calls} calls${p.cost !== undefined ? `, cost ${p.cost}` : ''}`;
}

/** The LLM enricher comes from MEMORY_LANE_LLM_* variables; keys never come from arguments (shell history). */
export function enricherConfigFromEnv(kind: 'local' | 'openai', env: NodeJS.ProcessEnv = process.env): EnricherConfig {
  if (kind === 'local') return { provider: 'local' };
  const baseUrl = env.MEMORY_LANE_LLM_BASE_URL?.trim();
  const model = env.MEMORY_LANE_LLM_MODEL?.trim();
  if (!baseUrl) throw new ValidationError('MEMORY_LANE_LLM_BASE_URL', 'must be set for --enricher openai (e.g. http://127.0.0.1:11434/v1)');
  if (!model) throw new ValidationError('MEMORY_LANE_LLM_MODEL', 'must be set for --enricher openai');
  const timeout = Number(env.MEMORY_LANE_LLM_TIMEOUT_MS);
  return { provider: 'openai-compatible', baseUrl, model, ...(env.MEMORY_LANE_LLM_API_KEY ? { apiKey: env.MEMORY_LANE_LLM_API_KEY } : {}), ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}) };
}

/** Progress on stderr: a bar on a terminal, one plain line every few seconds otherwise. */
function progressReporter(ctx: CliContext): { update(p: UpgradeProgress): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ format: 'upgrade |{bar}| {value}/{total} rows · {phase} · {rate} rows/s · ETA {eta_formatted} · {failed} failed{spend}', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update: (p) => {
        const spend = spendText(p);
        const payload = { phase: p.phase, rate: p.rate.toFixed(0), failed: p.failed, spend: spend ? ` · ${spend}` : '' };
        if (!started) { bar.start(Math.max(p.candidates, 1), p.written, payload); started = true; }
        bar.setTotal(Math.max(p.candidates, 1));
        bar.update(p.written + p.skipped + p.failed, payload);
      },
      stop: () => { if (started) bar.stop(); },
    };
  }
  let last = 0;
  return {
    update: (p) => {
      if (Date.now() - last < 2000 && p.phase !== 'done') return;
      last = Date.now();
      const spend = spendText(p);
      ctx.out.note(`upgrade: ${p.phase} — ${p.written}/${p.candidates} written, ${p.skipped} skipped, ${p.failed} failed, ${p.rate.toFixed(0)} rows/s${p.etaMs !== undefined ? `, ETA ${Math.ceil(p.etaMs / 1000)} s` : ''}${spend ? `, ${spend}` : ''}`);
    },
    stop: () => {},
  };
}

/** `upgrade`: enriches legacy memories in the background-safe two-phase way (LLM work never under the lock). */
export function registerUpgradeCommand(program: Command, run: Run): void {
  program.command('upgrade')
    .description('enriches legacy memories (abstract, overview, cleaned content, category); resumable, Ctrl-C stops after whole batches')
    .option('--batch-size <n>', 'rows per write batch (= per lock), default 200', positiveInt('--batch-size', 256))
    .option('--concurrency <n>', 'entries enriched at once', positiveInt('--concurrency', 64))
    .addOption(new Option('--enricher <kind>', 'local (offline, default) or openai (MEMORY_LANE_LLM_BASE_URL, _MODEL, _API_KEY)').choices(['local', 'openai']).default('local'))
    .option('--dry-run', 'report what would change; write nothing')
    .option('--force', 'also re-enrich memories enriched by the local heuristic (use with --enricher openai)')
    .option('--token-budget <n>', 'tokens (prompt + completion) this run may spend; it stops after whole batches, a rerun resumes', positiveInt('--token-budget', Number.MAX_SAFE_INTEGER))
    .option('--max-calls <n>', 'model requests this run may send', positiveInt('--max-calls', Number.MAX_SAFE_INTEGER))
    .option('--daily-token-budget <n>', 'tokens the background runs of every process on this store may spend today (the token ledger\'s total)', positiveInt('--daily-token-budget', Number.MAX_SAFE_INTEGER))
    .option('--price-per-1k <x>', 'price of 1000 tokens, to show the cost', price)
    .action((o: { batchSize?: number; concurrency?: number; enricher: 'local' | 'openai'; dryRun?: boolean; force?: boolean; tokenBudget?: number; maxCalls?: number; dailyTokenBudget?: number; pricePer1k?: number }) => run(async (ctx) => {
      const store = await ctx.openStore();
      const abort = new AbortController();
      const onSignal = () => { ctx.out.note('upgrade: stopping after the batch in flight…'); abort.abort(); };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const progress = progressReporter(ctx);
      try {
        const upgrade = createUpgradeRun(store, {
          enricher: createEnricher(enricherConfigFromEnv(o.enricher), componentLogger(ctx.logger, 'enrich')),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          ...(o.dryRun ? { dryRun: true } : {}),
          ...(o.force ? { force: true } : {}),
          budget: { tokens: o.tokenBudget ?? BUDGET_DEFAULTS.tokenBudget, calls: o.maxCalls ?? 0, dailyTokens: o.dailyTokenBudget ?? BUDGET_DEFAULTS.dailyTokenBudget, pricePer1k: o.pricePer1k ?? BUDGET_DEFAULTS.pricePer1kTokens },
          signal: abort.signal,
          logger: ctx.logger,
          onProgress: (p) => progress.update(p),
        });
        const result = await upgrade.run();
        progress.stop();
        ctx.out.result(result, (r) => [
          `${r.dryRun ? 'would upgrade' : 'upgraded'} ${r.upgraded} of ${r.candidates} legacy memories (${r.scanned} scanned), skipped ${r.skipped}, failed ${r.failed.length}${r.cancelled ? ' — cancelled; run again to resume' : ''}${r.aborted ? ` — stopped: ${r.aborted}` : ''}`,
          ...(r.calls ? [`spent ${spendText({ tokens: r.tokens, calls: r.calls, ...(r.budget ? { budget: r.budget } : {}), ...(r.cost !== undefined ? { cost: r.cost } : {}) })}${r.tokens.estimated ? ' (some estimated: the endpoint reported no usage)' : ''}`] : []),
          ...(r.stoppedBy ? [`stopped by the budget: ${r.stoppedBy.message}`] : []),
          ...(r.estimate ? [`estimate: ~${count(r.estimate.tokens.in)} in + ${count(r.estimate.tokens.out)} out tokens in ${r.estimate.calls} calls (${r.estimate.method === 'measured' ? 'measured tokens per row from earlier runs' : 'estimated at 4 characters per token'}; ~${count(r.estimate.perRow.in + r.estimate.perRow.out)} per memory)${r.estimate.cost !== undefined ? `, cost ~${r.estimate.cost}` : ''}${r.estimate.budgetAllows ? `; the ${r.estimate.budgetAllows.budget} lets ${r.estimate.budgetAllows.rows} of them through` : ''}`] : []),
          ...(r.failed.length ? ['', table(r.failed.slice(0, 20).map((f) => [f.id.slice(0, 12), truncate(f.reason, 90)]), ['id', 'reason'])] : []),
        ].join('\n'));
        if (result.failed.length > 0 || result.aborted) process.exitCode = 1;
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    })());
}
