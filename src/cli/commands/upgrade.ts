import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { ValidationError } from '../../core/errors';
import { createEnricher, createUpgradeRun, type EnricherConfig, type UpgradeProgress } from '../../core/upgrade';
import type { CliContext } from '../context';
import { table, truncate } from '../output';
import { componentLogger } from '../../core/log';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

const positiveInt = (name: string, max: number) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
  return n;
};

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
    const bar = new SingleBar({ format: 'upgrade |{bar}| {value}/{total} rows · {phase} · {rate} rows/s · ETA {eta_formatted} · {failed} failed', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update: (p) => {
        const payload = { phase: p.phase, rate: p.rate.toFixed(0), failed: p.failed };
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
      ctx.out.note(`upgrade: ${p.phase} — ${p.written}/${p.candidates} written, ${p.skipped} skipped, ${p.failed} failed, ${p.rate.toFixed(0)} rows/s${p.etaMs !== undefined ? `, ETA ${Math.ceil(p.etaMs / 1000)} s` : ''}`);
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
    .action((o: { batchSize?: number; concurrency?: number; enricher: 'local' | 'openai'; dryRun?: boolean; force?: boolean }) => run(async (ctx) => {
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
          signal: abort.signal,
          logger: ctx.logger,
          onProgress: (p) => progress.update(p),
        });
        const result = await upgrade.run();
        progress.stop();
        ctx.out.result(result, (r) => [
          `${r.dryRun ? 'would upgrade' : 'upgraded'} ${r.upgraded} of ${r.candidates} legacy memories (${r.scanned} scanned), skipped ${r.skipped}, failed ${r.failed.length}${r.cancelled ? ' — cancelled; run again to resume' : ''}${r.aborted ? ` — stopped: ${r.aborted}` : ''}`,
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
