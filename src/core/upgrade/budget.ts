import { errorMessage, ValidationError } from '../errors';
import type { Logger } from '../log';
import { TokenLedger } from '../usage/tokenLedger';
import { tokenCost, TokenMeter, type UsagePurpose } from '../usage/tokens';

/**
 * Limits on a background run's model spend; 0 or absent = no limit. Before each step the run
 * projects its cost (tokens per unit — a row of the upgrade, a cluster of consolidation — measured
 * in this run, else in the ledger, else the estimate rule) and prepares only the units that fit;
 * what was already prepared is written whole and the run ends with `stoppedBy`. A rerun resumes.
 */
export interface UpgradeBudget {
  /** Tokens (prompt + completion) this run may spend. */
  tokens?: number;
  /** Model requests (retries included) this run may send. */
  calls?: number;
  /** Tokens the background runs of every process on this store may spend today (the ledger's local-day total, read before each batch). */
  dailyTokens?: number;
  /** Price per 1 000 tokens: results and progress then show the cost. */
  pricePer1k?: number;
}

export type BudgetName = 'tokenBudget' | 'maxCalls' | 'dailyTokenBudget';

/** Why a run stopped before its candidates were done: which budget, its limit, and what was spent against it. */
export interface BudgetStop {
  budget: BudgetName;
  limit: number;
  spent: number;
  /** e.g. `token budget 5000 reached: this run spent 4860 tokens; run again (with a larger budget) to continue`. */
  message: string;
}

/** Who spends a run's tokens: the ledger's key for tokens per unit measured by earlier runs. */
export interface Spender {
  purpose: UsagePurpose;
  provider: string;
  model?: string;
}

/** Units of a budgeted run's first step, before its tokens per unit are measured (about one round of an enricher's concurrency). */
const PROBE_UNITS = 4;

export function normalizeBudget(b: UpgradeBudget | undefined): UpgradeBudget | undefined {
  if (!b) return undefined;
  const out: UpgradeBudget = {};
  for (const k of ['tokens', 'calls', 'dailyTokens', 'pricePer1k'] as const) {
    const v = b[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new ValidationError(`budget.${k}`, `must be a number ≥ 0, got ${JSON.stringify(v)}`);
    if (v) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * One run's spend against its budget: the meter every model call reports to, the projection that
 * decides how many units the next step may prepare, the ledger appends, and the stop message. The
 * upgrade (UpgradeRun) and consolidation share it, so both stop the same way and say so in the same words.
 */
export class SpendGuard {
  readonly budget: UpgradeBudget | undefined;
  readonly meter = new TokenMeter();
  private readonly ledger: TokenLedger;
  private _stoppedBy: BudgetStop | undefined;
  private ledgerPerUnit: Promise<{ in: number; out: number } | undefined> | undefined;

  constructor(dir: string, budget: UpgradeBudget | undefined, private readonly spender: Spender | undefined, private readonly log: Logger, private readonly runId: () => string) {
    this.budget = normalizeBudget(budget);
    this.ledger = new TokenLedger(dir);
  }

  get stoppedBy(): BudgetStop | undefined {
    return this._stoppedBy;
  }

  /** A budget that can stop the run (a price alone cannot). */
  get limited(): boolean {
    const b = this.budget;
    return !!this.spender && !!b && !!(b.tokens || b.calls || b.dailyTokens);
  }

  get tokens(): number {
    return this.meter.tokens;
  }

  /** Cost so far at the budget's price, when it has one. */
  get cost(): number | undefined {
    return tokenCost(this.meter.tokens, this.budget?.pricePer1k);
  }

  /** The tokens, calls, budget and cost fields of a run's result. */
  resultFields(): { tokens: { in: number; out: number; estimated?: boolean }; calls: number; budget: UpgradeBudget | null; stoppedBy?: BudgetStop; cost?: number } {
    const t = this.meter.totals;
    const cost = this.cost;
    return {
      tokens: { in: t.in, out: t.out, ...(t.estimatedCalls ? { estimated: true } : {}) },
      calls: t.calls,
      budget: this.budget ?? null,
      ...(this._stoppedBy ? { stoppedBy: { ...this._stoppedBy } } : {}),
      ...(cost !== undefined ? { cost } : {}),
    };
  }

  /** Today's tokens of every background run on this store (the ledger). */
  backgroundTokensToday(): Promise<number> {
    return this.ledger.backgroundTokensOn();
  }

  /** Tokens per unit measured by earlier runs of this spender, if any (read once per run). */
  measuredPerUnit(): Promise<{ in: number; out: number } | undefined> {
    const s = this.spender;
    if (!s) return Promise.resolve(undefined);
    this.ledgerPerUnit ??= this.ledger.perRow(s.purpose, s.provider, s.model).then((p) => (p ? { in: p.in, out: p.out } : undefined), (err) => {
      this.log.warn(`could not read the token ledger: ${errorMessage(err)}`);
      return undefined;
    });
    return this.ledgerPerUnit;
  }

  /**
   * How many of these units the next step may prepare within the budgets: the cost of one unit is
   * projected from this run's measured tokens per unit, else the ledger's, else `estimate` on these
   * units. Fewer than all sets `stoppedBy`: the run writes what it prepared and ends.
   */
  async allowance<T>(units: readonly T[], estimate: (unit: T) => { in: number; out: number }): Promise<number> {
    const b = this.budget;
    if (!b || !this.limited) return units.length;
    const t = this.meter.totals;
    let per: number;
    let probe = false;
    if (t.rows > 0) per = (t.in + t.out) / t.rows;
    else {
      const measured = await this.measuredPerUnit();
      per = measured ? measured.in + measured.out : units.reduce((n, u) => { const e = estimate(u); return n + e.in + e.out; }, 0) / Math.max(1, units.length);
      // Before anything is measured the estimate rule may be far off (a tokenizer unlike characters/4):
      // a token budget's first step is a few units, whose measured cost then sizes the rest.
      probe = !measured && !!(b.tokens || b.dailyTokens);
    }
    let allowed = probe ? Math.min(units.length, PROBE_UNITS) : units.length;
    const consider = (budget: BudgetName, limit: number | undefined, spent: number, unit: number) => {
      if (!limit) return;
      const fit = unit > 0 ? Math.max(0, Math.floor((limit - spent) / unit)) : units.length;
      if (fit < allowed) {
        allowed = fit;
        this._stoppedBy = { budget, limit, spent, message: '' };
      }
    };
    consider('tokenBudget', b.tokens, this.meter.tokens, per);
    consider('maxCalls', b.calls, t.calls, 1);
    if (b.dailyTokens) {
      let today = 0;
      try {
        today = await this.ledger.backgroundTokensOn();
      } catch (err) {
        this.log.warn(`could not read today's total from the token ledger: ${errorMessage(err)}`);
      }
      consider('dailyTokenBudget', b.dailyTokens, today, per);
    }
    return allowed;
  }

  /** Appends what this run spent since the last call to the ledger (one durable write per step). */
  async recordSpend(): Promise<void> {
    const pending = this.meter.takePending();
    if (pending.length === 0) return;
    try {
      await this.ledger.append(pending, { runId: this.runId() });
    } catch (err) {
      this.log.warn(`could not record ${pending.reduce((n, p) => n + p.calls, 0)} calls in the token ledger (the daily total misses them): ${errorMessage(err)}`);
    }
  }

  /** The stop's final figures and message, once the run's last step is written. */
  async finishStop(): Promise<void> {
    const stop = this._stoppedBy;
    if (!stop) return;
    const tokens = (n: number) => n.toLocaleString('en-US');
    const cost = this.cost;
    const costText = cost !== undefined ? ` (cost ${cost})` : '';
    if (stop.budget === 'tokenBudget') {
      stop.spent = this.meter.tokens;
      stop.message = `token budget ${tokens(stop.limit)} reached: this run spent ${tokens(stop.spent)} tokens${costText} in ${this.meter.totals.calls} calls; run again (with a larger budget) to continue`;
    } else if (stop.budget === 'maxCalls') {
      stop.spent = this.meter.totals.calls;
      stop.message = `call limit ${stop.limit} reached: this run sent ${stop.spent} requests (${tokens(this.meter.tokens)} tokens${costText}); run again to continue`;
    } else {
      try { stop.spent = await this.ledger.backgroundTokensOn(); } catch { /* keep the figure read before the step */ }
      stop.message = `daily token budget ${tokens(stop.limit)} reached: background runs spent ${tokens(stop.spent)} tokens today (this run ${tokens(this.meter.tokens)}${costText}); it continues tomorrow, or with a larger budget`;
    }
  }
}
