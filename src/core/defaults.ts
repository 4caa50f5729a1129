import { ValidationError } from './errors';

/**
 * The one set of defaults for what a person can tune. The VS Code settings (package.json, checked
 * against this by a unit test), the CLI's flags and the MCP server's environment all read these, so
 * every process on a store agrees on when a lock holder is stale and how long a write may wait.
 */
export const LOCK_DEFAULTS = {
  /** How long an interactive write (an agent's store, a person's edit) waits for the store lock. */
  writeTimeoutMs: 5000,
  /** How long background work (bookkeeping, upgrade batches, maintenance) waits for the store lock. */
  backgroundTimeoutMs: 60_000,
  /** A store-lock holder that has not refreshed its lock for this long is taken over. */
  staleMs: 10_000,
} as const;

/** A job (an upgrade, an index build) refreshes its lock like any holder; a little more slack than the store lock. */
export const JOB_LOCK_STALE_MS = 15_000;

export const UPGRADE_DEFAULTS = {
  /** Patches per upgrade commit: one lock acquisition each. */
  batchSize: 200,
  /** Enrichment calls in flight at once. */
  concurrency: 4,
} as const;

/** The consolidation planner's defaults (docs/consolidation.md says how they were chosen). */
export const CONSOLIDATE_DEFAULTS = {
  /** Cosine similarity a pair needs (`memoryLane.consolidate.threshold`, `--threshold`). */
  threshold: 0.8,
  /** Share of words two memories must have in common before their vectors are compared. */
  minOverlap: 0.5,
  /** Clusters per write step (`--batch-size`). */
  batchClusters: 50,
} as const;

/**
 * What background LLM work may spend, and the price that turns tokens into cost. 0 means no limit
 * (no cost shown). Tokens are prompt + completion tokens as the ledger counts them (src/core/usage).
 */
export const BUDGET_DEFAULTS = {
  /** Tokens one upgrade run may spend (`memoryLane.upgrade.tokenBudget`, `--token-budget`). */
  tokenBudget: 0,
  /** Tokens the background runs of every process on a store may spend per local day (`memoryLane.upgrade.dailyTokenBudget`). */
  dailyTokenBudget: 0,
  /** Price per 1 000 tokens, in the person's currency (`memoryLane.upgrade.pricePer1kTokens`, `--price-per-1k`). */
  pricePer1kTokens: 0,
} as const;

export interface LockSettings {
  writeTimeoutMs: number;
  backgroundTimeoutMs: number;
  staleMs: number;
}

/** Bounds of each lock setting; the same as the VS Code settings' minimum and maximum. */
export const LOCK_BOUNDS: Record<keyof LockSettings, { min: number; max: number }> = {
  writeTimeoutMs: { min: 100, max: 600_000 },
  backgroundTimeoutMs: { min: 1000, max: 3_600_000 },
  staleMs: { min: 2000, max: 600_000 },
};

/** The environment variables that carry the lock settings to processes the window or a person starts. */
export const LOCK_ENV: Record<keyof LockSettings, string> = {
  writeTimeoutMs: 'MEMORY_LANE_LOCK_WRITE_TIMEOUT_MS',
  backgroundTimeoutMs: 'MEMORY_LANE_LOCK_BACKGROUND_TIMEOUT_MS',
  staleMs: 'MEMORY_LANE_LOCK_STALE_MS',
};

/** Checks one lock setting; `source` names where it came from (a flag, a variable) for the error. */
export function checkLockSetting(key: keyof LockSettings, value: unknown, source: string): number {
  const { min, max } = LOCK_BOUNDS[key];
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(source, `must be an integer from ${min} to ${max} (milliseconds), got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * Lock settings from explicit values (CLI flags) over the environment over the defaults. A bad value
 * is an error naming its source, never silently replaced: two processes must not disagree quietly.
 */
export function resolveLockSettings(explicit: Partial<Record<keyof LockSettings, unknown>> = {}, env: NodeJS.ProcessEnv = process.env, flagNames: Partial<Record<keyof LockSettings, string>> = {}): LockSettings {
  const out = { ...LOCK_DEFAULTS } as LockSettings;
  for (const key of Object.keys(LOCK_DEFAULTS) as Array<keyof LockSettings>) {
    if (explicit[key] !== undefined) out[key] = checkLockSetting(key, explicit[key], flagNames[key] ?? key);
    else if (env[LOCK_ENV[key]] !== undefined && env[LOCK_ENV[key]] !== '') out[key] = checkLockSetting(key, env[LOCK_ENV[key]], LOCK_ENV[key]);
  }
  return out;
}

/** The environment that gives a child process (an MCP server the window defines) these lock settings. */
export function lockSettingsEnv(settings: LockSettings): Record<string, string> {
  return Object.fromEntries((Object.keys(LOCK_ENV) as Array<keyof LockSettings>).map((k) => [LOCK_ENV[k], String(settings[k])]));
}

/**
 * On a remote store a version is pruned only once its successor is this old: other machines' read
 * pins are invisible from here (docs/team-store.md#pruning-on-a-remote-store).
 */
export const REMOTE_CLEANUP_MARGIN_MS = 24 * 60 * 60 * 1000;
