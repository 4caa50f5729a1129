/**
 * Token accounting for every call Memory Lane makes to a model: enrichment (chat) and embedding.
 * A call's tokens come from, in order of preference:
 *
 * - `usage`: the endpoint's own `usage` object (OpenAI-compatible replies carry it);
 * - `countTokens`: the VS Code chat model's tokenizer (`LanguageModelChat.countTokens`), for the
 *   prompt and the reply, since vscode.lm reports no usage;
 * - `estimate`: neither exists (a local server that omits `usage`, a tokenizer that failed): one
 *   token per {@link CHARS_PER_TOKEN} characters, rounded up. Such records say `estimated: true`.
 *
 * A failed request counts as a call; the endpoint reports no usage for it, so it adds no tokens.
 */
export type TokenSource = 'usage' | 'countTokens' | 'estimate';

/** What the tokens were spent on. */
export type UsagePurpose = 'enrich' | 'embed' | 'consolidate';

/** The spend of one call (or of several, once aggregated). */
export interface CallUsage {
  purpose: UsagePurpose;
  /** `openai-compatible`, `vscode-lm`, … (the enricher's or embedder's provider). */
  provider: string;
  model?: string;
  /** Prompt tokens. */
  in: number;
  /** Completion tokens (0 for embeddings). */
  out: number;
  /** Requests sent, retries included. */
  calls: number;
  source: TokenSource;
  /** Memories these calls produced a result for (the dry run's tokens-per-row figure is tokens / rows). */
  rows?: number;
}

/** Where an enricher or embedder reports each call's spend. */
export type UsageSink = (usage: CallUsage) => void;

/**
 * The estimate rule. English prose runs at about 4 characters per token in the GPT and Llama
 * tokenizers; code and non-Latin scripts run denser, so an estimate may be low for them. The
 * dry run switches to measured tokens per row as soon as the ledger holds any.
 */
export const CHARS_PER_TOKEN = 4;

export function estimateTokens(textOrChars: string | number): number {
  const chars = typeof textOrChars === 'number' ? textOrChars : textOrChars.length;
  return chars <= 0 ? 0 : Math.ceil(chars / CHARS_PER_TOKEN);
}

export interface TokenTotals {
  in: number;
  out: number;
  calls: number;
  /** Rows the calls produced results for. */
  rows: number;
  /** Calls whose tokens were estimated (no `usage`, no tokenizer). */
  estimatedCalls: number;
}

export const emptyTotals = (): TokenTotals => ({ in: 0, out: 0, calls: 0, rows: 0, estimatedCalls: 0 });

export function addUsage(t: TokenTotals, u: Pick<CallUsage, 'in' | 'out' | 'calls' | 'rows' | 'source'>): void {
  t.in += u.in;
  t.out += u.out;
  t.calls += u.calls;
  t.rows += u.rows ?? 0;
  if (u.source === 'estimate') t.estimatedCalls += u.calls;
}

/** Cost of a number of tokens at a price per 1 000 tokens, rounded to a hundredth of a cent. */
export function tokenCost(tokens: number, pricePer1k: number | undefined): number | undefined {
  if (!pricePer1k || pricePer1k <= 0) return undefined;
  return Math.round((tokens / 1000) * pricePer1k * 10_000) / 10_000;
}

/**
 * One run's meter: totals so far, and what has not reached the ledger yet (grouped by provider,
 * model, purpose and source, so a batch of 200 calls is one ledger line, not 200 fsyncs).
 */
export class TokenMeter {
  readonly totals: TokenTotals = emptyTotals();
  private pending = new Map<string, CallUsage>();

  readonly record: UsageSink = (u) => {
    addUsage(this.totals, u);
    const key = `${u.purpose}\u0000${u.provider}\u0000${u.model ?? ''}\u0000${u.source}`;
    const p = this.pending.get(key);
    if (p) {
      p.in += u.in;
      p.out += u.out;
      p.calls += u.calls;
      p.rows = (p.rows ?? 0) + (u.rows ?? 0);
    } else {
      this.pending.set(key, { ...u, rows: u.rows ?? 0 });
    }
  };

  get tokens(): number {
    return this.totals.in + this.totals.out;
  }

  /** What was recorded since the last call, for one ledger append. */
  takePending(): CallUsage[] {
    const out = [...this.pending.values()];
    this.pending = new Map();
    return out;
  }
}
