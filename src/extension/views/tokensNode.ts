import type { BudgetStop, UpgradeBudget } from '../../core/upgrade';
import type { LockNode } from './locksTree';

/** Tokens in/out, calls, rate and the spend against the run's budget (src/core/usage): the upgrade's and consolidation's run nodes. */
export function tokensNode(id: string, t: { in: number; out: number; estimated?: boolean }, calls: number, budget: UpgradeBudget | null | undefined, cost: number | undefined, tokenRate?: number, stop?: BudgetStop): LockNode {
  const n = (x: number) => x.toLocaleString('en-US');
  const spent = t.in + t.out;
  const against = budget?.tokens ? ` · ${Math.round((spent / budget.tokens) * 100)}% of ${n(budget.tokens)}` : '';
  const limits = [budget?.tokens ? `token budget ${n(budget.tokens)}` : '', budget?.calls ? `at most ${n(budget.calls)} calls` : '', budget?.dailyTokens ? `daily budget ${n(budget.dailyTokens)} (every process on this store)` : ''].filter(Boolean);
  return {
    id,
    label: 'Tokens',
    description: `${n(t.in)} in · ${n(t.out)} out · ${n(calls)} calls${tokenRate ? ` · ${n(tokenRate)}/s` : ''}${against}${cost !== undefined ? ` · cost ${cost}` : ''}${stop ? ' · budget reached' : ''}`,
    icon: 'credit-card',
    ...(stop ? { severity: 'warning' as const, iconColor: 'list.warningForeground' } : {}),
    tooltip: [`Model tokens of this run: **${n(t.in)}** prompt, **${n(t.out)}** completion, in ${n(calls)} requests${t.estimated ? ' (some estimated at 4 characters per token: the endpoint reported no usage)' : ''}.`,
      limits.length ? `Budget: ${limits.join(', ')}.` : 'No budget (memoryLane.upgrade.tokenBudget, memoryLane.upgrade.dailyTokenBudget).',
      stop ? `Stopped: ${stop.message}` : ''].filter(Boolean).join('\n\n'),
  };
}
