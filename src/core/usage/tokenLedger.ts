import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { appendJsonLines } from '../durableAppend';
import { addUsage, emptyTotals, type CallUsage, type TokenSource, type TokenTotals, type UsagePurpose } from './tokens';

export const TOKEN_LEDGER_FILE = 'token-ledger.jsonl';

/** One line of the ledger: the spend of some calls of one process, one provider/model and one purpose. */
export interface LedgerRecord {
  v: 1;
  at: number;
  /** The local calendar day of `at` (YYYY-MM-DD) in the writing process: "per day" as a person reads it. */
  day: string;
  pid: number;
  host: string;
  /** The background run (upgrade, consolidation) that spent them; absent for agents' and people's calls. */
  runId?: string;
  purpose: UsagePurpose;
  provider: string;
  model?: string;
  source: TokenSource;
  /** Present (true) when the tokens were estimated by the characters/4 rule. */
  estimated?: true;
  calls: number;
  in: number;
  out: number;
  rows: number;
}

export function localDay(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export interface ModelTotals extends TokenTotals {
  purpose: UsagePurpose;
  provider: string;
  model?: string;
}

export interface PeriodTotals extends TokenTotals {
  /** Per provider, model and purpose, most tokens first. */
  byModel: ModelTotals[];
  /** Cost at the given price per 1k tokens, when one was given. */
  cost?: number;
}

export interface TokenSummary {
  today: PeriodTotals & { day: string };
  /** Today and the 29 days before it. */
  last30Days: PeriodTotals & { byDay: Array<{ day: string; in: number; out: number; calls: number }> };
  /** Lines of the ledger that could not be read (a torn tail after a crash); they are skipped. */
  tornLines: number;
}

/**
 * The store's token ledger (`token-ledger.jsonl` in the store folder): append-only JSON lines,
 * written by every process on the store through the durable append (fsync'd; a torn last line is
 * closed before the next append, and skipped when read). Totals per run, per day and per provider
 * and model are sums over its lines, so processes and days add up without any coordination.
 *
 * Reading is incremental: each refresh reads only the bytes appended since the last one, up to the
 * last complete line, which is what lets a run check the day's total before every batch.
 */
export class TokenLedger {
  readonly path: string;
  private offset = 0;
  private records: LedgerRecord[] = [];
  private torn = 0;
  private reading: Promise<void> | undefined;

  constructor(readonly dir: string) {
    this.path = join(dir, TOKEN_LEDGER_FILE);
  }

  /** Appends the usages as one durable write; empty ones (no calls) are left out. */
  async append(usages: CallUsage[], context: { runId?: string; at?: number } = {}): Promise<void> {
    const at = context.at ?? Date.now();
    const lines = usages.filter((u) => u.calls > 0 || u.in > 0 || u.out > 0).map((u) => {
      const record: LedgerRecord = {
        v: 1, at, day: localDay(at), pid: process.pid, host: hostname(),
        ...(context.runId ? { runId: context.runId } : {}),
        purpose: u.purpose, provider: u.provider, ...(u.model ? { model: u.model } : {}),
        source: u.source, ...(u.source === 'estimate' ? { estimated: true as const } : {}),
        calls: u.calls, in: u.in, out: u.out, rows: u.rows ?? 0,
      };
      return JSON.stringify(record);
    });
    await appendJsonLines(this.path, lines);
  }

  /** Every readable record, including lines other processes appended since the last call. */
  async read(): Promise<readonly LedgerRecord[]> {
    // One read at a time: concurrent callers share it instead of racing on the offset.
    this.reading ??= this.readMore().finally(() => { this.reading = undefined; });
    await this.reading;
    return this.records;
  }

  private async readMore(): Promise<void> {
    let handle;
    try {
      handle = await fs.open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { this.offset = 0; this.records = []; this.torn = 0; return; }
      throw err;
    }
    try {
      const { size } = await handle.stat();
      if (size < this.offset) { this.offset = 0; this.records = []; this.torn = 0; } // replaced (a restored store folder)
      if (size === this.offset) return;
      const buf = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buf, 0, buf.length, this.offset);
      const end = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      // No complete line yet: a writer is mid-append (or crashed mid-line; its next append closes it).
      if (end < 0) return;
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const r = parseRecord(line);
        if (r) this.records.push(r);
        else this.torn++;
      }
      this.offset += end + 1;
    } finally {
      await handle.close();
    }
  }

  /** Tokens (in + out) that background runs of every process spent on the local day of `now`: what a daily cap counts. */
  async backgroundTokensOn(now = Date.now()): Promise<number> {
    const day = localDay(now);
    let sum = 0;
    for (const r of await this.read()) if (r.day === day && r.runId) sum += r.in + r.out;
    return sum;
  }

  /**
   * Measured tokens per row of a provider/model for a purpose (records with a reported or counted
   * spend only), or undefined before any: what the dry run multiplies by the candidates.
   */
  async perRow(purpose: UsagePurpose, provider: string, model: string | undefined): Promise<{ in: number; out: number; rows: number } | undefined> {
    const t = emptyTotals();
    for (const r of await this.read()) {
      if (r.purpose === purpose && r.provider === provider && (r.model ?? '') === (model ?? '') && r.source !== 'estimate') addUsage(t, r);
    }
    return t.rows > 0 ? { in: t.in / t.rows, out: t.out / t.rows, rows: t.rows } : undefined;
  }

  /** Today and the last 30 days, per provider and model; `pricePer1k` adds the cost. */
  async summary(options: { now?: number; pricePer1k?: number } = {}): Promise<TokenSummary> {
    const records = await this.read();
    return summarize(records, options.now ?? Date.now(), options.pricePer1k, this.torn);
  }
}

function parseRecord(line: string): LedgerRecord | undefined {
  try {
    const r = JSON.parse(line) as Partial<LedgerRecord>;
    const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (r?.v !== 1 || typeof r.day !== 'string' || typeof r.provider !== 'string' || !num(r.in) || !num(r.out) || !num(r.calls)) return undefined;
    return { ...r, rows: num(r.rows) ? r.rows! : 0 } as LedgerRecord;
  } catch {
    return undefined;
  }
}

export function summarize(records: readonly LedgerRecord[], now: number, pricePer1k: number | undefined, tornLines = 0): TokenSummary {
  const today = localDay(now);
  const days = new Set<string>();
  for (let i = 0; i < 30; i++) days.add(localDay(now - i * 86_400_000));
  const period = () => ({ totals: emptyTotals(), byModel: new Map<string, ModelTotals>() });
  const t = period();
  const m = period();
  const byDay = new Map<string, { day: string; in: number; out: number; calls: number }>();
  const add = (p: ReturnType<typeof period>, r: LedgerRecord) => {
    addUsage(p.totals, r);
    const key = `${r.purpose}\u0000${r.provider}\u0000${r.model ?? ''}`;
    let x = p.byModel.get(key);
    if (!x) p.byModel.set(key, x = { purpose: r.purpose, provider: r.provider, ...(r.model ? { model: r.model } : {}), ...emptyTotals() });
    addUsage(x, r);
  };
  for (const r of records) {
    if (!days.has(r.day)) continue;
    add(m, r);
    if (r.day === today) add(t, r);
    const d = byDay.get(r.day) ?? { day: r.day, in: 0, out: 0, calls: 0 };
    d.in += r.in; d.out += r.out; d.calls += r.calls;
    byDay.set(r.day, d);
  }
  const finish = (p: ReturnType<typeof period>): PeriodTotals => {
    const cost = pricePer1k && pricePer1k > 0 ? Math.round(((p.totals.in + p.totals.out) / 1000) * pricePer1k * 10_000) / 10_000 : undefined;
    return { ...p.totals, byModel: [...p.byModel.values()].sort((a, b) => (b.in + b.out) - (a.in + a.out)), ...(cost !== undefined ? { cost } : {}) };
  };
  return {
    today: { day: today, ...finish(t) },
    last30Days: { ...finish(m), byDay: [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : 1)) },
    tornLines,
  };
}

/** Today's and the last 30 days' totals of the store at `dir` (stats, memory_stats). */
export function tokenSummary(dir: string, options: { now?: number; pricePer1k?: number } = {}): Promise<TokenSummary> {
  return new TokenLedger(dir).summary(options);
}
