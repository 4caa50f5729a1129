import { type Command, InvalidArgumentError } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { BUDGET_DEFAULTS } from '../core/defaults';
import { ValidationError } from '../core/errors';
import type { EnricherConfig, UpgradeBudget } from '../core/upgrade';
import type { CliContext } from './context';

// What the CLI's background jobs (`upgrade`, `consolidate`) share: their budget flags, their
// progress on stderr, their spend line and their Ctrl-C handling. One copy, so both read alike.

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

export const count = (n: number) => n.toLocaleString('en-US');

/** What a job's progress and result say about spending (both the upgrade's and consolidation's have these). */
export interface Spend {
  tokens?: { in: number; out: number; estimated?: boolean };
  calls?: number;
  budget?: { tokens?: number } | null;
  cost?: number;
}

/** Tokens and calls so far, with the spend against the token budget when there is one. */
export function spendText(p: Spend): string {
  if (!p.calls) return '';
  const t = p.tokens ?? { in: 0, out: 0 };
  const budget = p.budget?.tokens ? ` of ${count(p.budget.tokens)}` : '';
  return `${count(t.in)} in + ${count(t.out)} out tokens${budget}, ${p.calls} calls${p.cost !== undefined ? `, cost ${p.cost}` : ''}`;
}

/** The result's `spent …` line, or none when the job called no model. */
export function spentLines(r: Spend): string[] {
  if (!r.calls) return [];
  return [`spent ${spendText(r)}${r.tokens?.estimated ? ' (some estimated: the endpoint reported no usage)' : ''}`];
}

export interface BudgetFlags {
  tokenBudget?: number;
  maxCalls?: number;
  dailyTokenBudget?: number;
  pricePer1k?: number;
}

/** `--token-budget`, `--max-calls`, `--daily-token-budget`, `--price-per-1k`; `tokenBudgetHelp` says what the job stops after. */
export function addBudgetOptions(command: Command, tokenBudgetHelp: string): Command {
  return command
    .option('--token-budget <n>', tokenBudgetHelp, positiveInt('--token-budget', Number.MAX_SAFE_INTEGER))
    .option('--max-calls <n>', 'model requests this run may send', positiveInt('--max-calls', Number.MAX_SAFE_INTEGER))
    .option('--daily-token-budget <n>', 'tokens the background runs of every process on this store may spend today (the token ledger\'s total)', positiveInt('--daily-token-budget', Number.MAX_SAFE_INTEGER))
    .option('--price-per-1k <x>', 'price of 1000 tokens, to show the cost', price);
}

/** The budget flags as the core takes them; an absent flag is the default (0 = no limit). */
export function budgetFromFlags(o: BudgetFlags): UpgradeBudget {
  return { tokens: o.tokenBudget ?? BUDGET_DEFAULTS.tokenBudget, calls: o.maxCalls ?? 0, dailyTokens: o.dailyTokenBudget ?? BUDGET_DEFAULTS.dailyTokenBudget, pricePer1k: o.pricePer1k ?? BUDGET_DEFAULTS.pricePer1kTokens };
}

/**
 * The LLM enricher (or merger) comes from MEMORY_LANE_LLM_* variables; keys never come from
 * arguments (shell history). `flag` is what the person typed to ask for it, for the error.
 */
export function enricherConfigFromEnv(kind: 'local' | 'openai', env: NodeJS.ProcessEnv = process.env, flag = '--enricher openai'): EnricherConfig {
  if (kind === 'local') return { provider: 'local' };
  const baseUrl = env.MEMORY_LANE_LLM_BASE_URL?.trim();
  const model = env.MEMORY_LANE_LLM_MODEL?.trim();
  if (!baseUrl) throw new ValidationError('MEMORY_LANE_LLM_BASE_URL', `must be set for ${flag} (e.g. http://127.0.0.1:11434/v1)`);
  if (!model) throw new ValidationError('MEMORY_LANE_LLM_MODEL', `must be set for ${flag}`);
  const timeout = Number(env.MEMORY_LANE_LLM_TIMEOUT_MS);
  return { provider: 'openai-compatible', baseUrl, model, ...(env.MEMORY_LANE_LLM_API_KEY ? { apiKey: env.MEMORY_LANE_LLM_API_KEY } : {}), ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}) };
}

/** How one job's progress reads: the bar's format (without the spend) and fields, or one plain line. */
export interface ProgressView<P> {
  /** cli-progress format; `{spend}` is appended. */
  barFormat: string;
  total(p: P): number;
  value(p: P): number;
  fields(p: P): Record<string, string | number>;
  /** The plain line (without the spend, which is appended). */
  line(p: P): string;
}

/** A plain line at most this often (the last, `done`, always). */
export const PROGRESS_LINE_EVERY_MS = 2000;

/** Progress on stderr: a bar on a terminal, one plain line every few seconds otherwise. */
export function progressReporter<P extends Spend & { phase: string }>(ctx: CliContext, view: ProgressView<P>): { update(p: P): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ format: `${view.barFormat}{spend}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
    let started = false;
    return {
      update: (p) => {
        const spend = spendText(p);
        const payload = { ...view.fields(p), spend: spend ? ` · ${spend}` : '' };
        const total = Math.max(view.total(p), 1);
        if (!started) { bar.start(total, view.value(p), payload); started = true; }
        bar.setTotal(total);
        bar.update(view.value(p), payload);
      },
      stop: () => { if (started) { bar.stop(); started = false; } },
    };
  }
  let last = 0;
  return {
    update: (p) => {
      if (Date.now() - last < PROGRESS_LINE_EVERY_MS && p.phase !== 'done') return;
      last = Date.now();
      const spend = spendText(p);
      ctx.out.note(`${view.line(p)}${spend ? `, ${spend}` : ''}`);
    },
    stop: () => {},
  };
}

/** Ctrl-C (or SIGTERM) aborts the signal after a note; `dispose` removes the handlers. */
export function stopOnInterrupt(ctx: CliContext, note: string): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onSignal = () => { ctx.out.note(note); abort.abort(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); },
  };
}
