import { CancelledError, MemoryLaneError } from '../errors';
import { OpenAiClient } from '../llm/openAiClient';
import type { Logger } from '../log';
import { estimateTokens, type TokenSource } from '../usage/tokens';

/** What one merge cost, as the merger knows it (an endpoint's `usage`, a tokenizer's count, or an estimate). */
export interface MergeUsage {
  in: number;
  out: number;
  /** Requests sent, retries included (default 1). */
  calls?: number;
  /** Where the figures come from (default `usage`); see src/core/usage/tokens.ts. */
  source?: TokenSource;
}

/**
 * Writes the one memory a cluster becomes. `texts[0]` is the survivor's text (the most complete,
 * then the newest), then the members' texts. The core has the local rule and an OpenAI-compatible
 * merger; the extension passes its VS Code chat model by implementing this itself. A merger runs
 * in planning or before a step's writes, never under a lock.
 */
export interface ConsolidationMerger {
  /** `local`, or e.g. `openai-compatible/<model>`: the cluster's `proposedBy`, and the ledger's provider/model (split at the first `/`). */
  readonly name: string;
  merge(texts: string[], signal: AbortSignal): Promise<{ text: string; usage?: MergeUsage }>;
  /** Tokens one merge is expected to cost before it is sent (budgets, until the ledger has measured figures). Absent: it calls no model. */
  estimate?(texts: string[]): { in: number; out: number };
}

export const LOCAL_MERGER_NAME = 'local';

/** The local rule: the survivor's text as it is (the planner put the most complete, newest text first). */
export class LocalMerger implements ConsolidationMerger {
  readonly name = LOCAL_MERGER_NAME;
  async merge(texts: string[]): Promise<{ text: string }> {
    return { text: texts[0] ?? '' };
  }
}

/** A merge the model could not make; the cluster then falls back to the local rule with this reason. */
export class MergeError extends MemoryLaneError {
  constructor(readonly reason: string) {
    super('E_MERGE', reason);
  }
}

export interface OpenAiCompatibleMergerOptions {
  /** e.g. `http://127.0.0.1:11434/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /** Sent as a bearer token, never logged or put in errors. */
  apiKey?: string;
  timeoutMs?: number;
  retries?: number;
  maxReplyBytes?: number;
  /** Characters of each memory sent (a longer one is cut). */
  maxInputChars?: number;
  logger?: Logger;
}

export const MERGE_SYSTEM_PROMPT = [
  'You merge memories that say the same thing into one memory.',
  'Keep every fact, name, number and preference that appears in any of them; add nothing that none of them says.',
  'Write it in the style of the memories, as short as the facts allow.',
  'Reply with the merged memory text only: no preamble, no quotes, no list of sources.',
].join(' ');

/** The user message of one merge: the memories, numbered. */
export function mergeMessage(texts: string[], maxInputChars: number): string {
  return `Memories to merge:\n${texts.map((t, i) => `${i + 1}. ${t.slice(0, maxInputChars).replace(/\s+/g, ' ').trim()}`).join('\n')}`;
}

/** A merged text longer than this many times the longest input (or than 200 characters) is not a merge (a model rambling). */
const MAX_GROWTH = 2;
const MIN_ALLOWED_CHARS = 200;

/**
 * Why a model's merged text (already `cleanMergeReply`ed) is not a merge of `texts`: empty, or far
 * longer than the memories it merges. Undefined when it is one. Every model merger checks with this.
 */
export function mergeReplyProblem(text: string, texts: string[]): string | undefined {
  if (!text) return 'the reply has no text';
  const longest = texts.reduce((n, t) => Math.max(n, t.length), 0);
  if (text.length > Math.max(MIN_ALLOWED_CHARS, longest * MAX_GROWTH)) return `the reply (${text.length} characters) is far longer than the memories it merges (at most ${longest})`;
  return undefined;
}

/** Merging through any OpenAI-compatible `/chat/completions` endpoint, on the one HTTP client (src/core/llm/openAiClient.ts). */
export class OpenAiCompatibleMerger implements ConsolidationMerger {
  readonly name: string;
  private readonly client: OpenAiClient;
  private readonly maxInputChars: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: OpenAiCompatibleMergerOptions) {
    if (!/^https?:\/\//i.test(options.baseUrl)) throw new MergeError(`merge endpoint ${JSON.stringify(options.baseUrl)} is not an http(s) URL`);
    if (!options.model?.trim()) throw new MergeError('a model name is required for the openai-compatible merger');
    this.name = `openai-compatible/${options.model}`;
    this.maxInputChars = options.maxInputChars ?? 4000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.client = new OpenAiClient({
      baseUrl: options.baseUrl,
      ...(options.apiKey ? { apiKey: options.apiKey } : {}),
      timeoutMs: this.timeoutMs,
      retries: options.retries ?? 2,
      maxReplyBytes: options.maxReplyBytes ?? 64 * 1024,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  estimate(texts: string[]): { in: number; out: number } {
    const longest = texts.reduce((n, t) => Math.max(n, Math.min(t.length, this.maxInputChars)), 0);
    return { in: estimateTokens(MERGE_SYSTEM_PROMPT.length + mergeMessage(texts, this.maxInputChars).length), out: estimateTokens(Math.round(longest * 1.2)) };
  }

  async merge(texts: string[], signal: AbortSignal): Promise<{ text: string; usage?: MergeUsage }> {
    const messages = [{ role: 'system' as const, content: MERGE_SYSTEM_PROMPT }, { role: 'user' as const, content: mergeMessage(texts, this.maxInputChars) }];
    const result = await this.client.chat({ model: this.options.model, temperature: 0, messages }, signal);
    if (!result.ok) {
      const f = result.failure;
      // Requests sent before the cancel are spent calls (the upgrade's enricher counts them too).
      if (f.kind === 'cancelled') throw Object.assign(new CancelledError('merge request'), { usage: { in: 0, out: 0, calls: Math.max(1, result.attempts), source: 'usage' } satisfies MergeUsage });
      const why = f.kind === 'http' ? `HTTP ${f.status}${f.status === 401 || f.status === 403 ? ' (check the API key)' : ''}${f.detail ? `: ${f.detail}` : ''}`
        : f.kind === 'timeout' ? `timed out after ${this.timeoutMs} ms`
        : f.kind === 'network' ? `cannot reach the endpoint (${f.reason})`
        : f.kind === 'too-large' ? `reply too large (limit ${f.limit} bytes)`
        : `endpoint returned invalid JSON: ${JSON.stringify(f.sample.slice(0, 60))}`;
      // A failed request reports no usage: it counts as calls, with no tokens.
      throw Object.assign(new MergeError(why), { usage: { in: 0, out: 0, calls: Math.max(1, result.attempts), source: 'usage' } satisfies MergeUsage });
    }
    const content = typeof result.value.content === 'string' ? result.value.content : '';
    const u = result.usage;
    const usage: MergeUsage = {
      in: u?.promptTokens ?? estimateTokens(messages.reduce((n, m) => n + m.content.length, 0)),
      out: u?.completionTokens ?? estimateTokens(content),
      calls: Math.max(1, result.attempts),
      source: u ? 'usage' : 'estimate',
    };
    const text = cleanMergeReply(content);
    const fail = (reason: string) => Object.assign(new MergeError(reason), { usage });
    if (typeof result.value.refusal === 'string' && result.value.refusal) throw fail(`model refused: ${this.client.redact(result.value.refusal.slice(0, 120))}`);
    if (result.value.finishReason === 'length') throw fail('reply was cut off at the token limit (finish_reason "length")');
    const problem = mergeReplyProblem(text, texts);
    if (problem) throw fail(problem);
    return { text, usage };
  }
}

/** The reply's text without what models wrap around it (code fences, quotes, a "Merged memory:" label). */
export function cleanMergeReply(content: string): string {
  let t = content.trim();
  const fence = /^```[a-z]*\n([\s\S]*?)\n?```$/i.exec(t);
  if (fence) t = fence[1]!.trim();
  t = t.replace(/^(merged memory|merged|memory)\s*:\s*/i, '').trim();
  if (t.length >= 2 && /^["“'].*["”']$/s.test(t)) t = t.slice(1, -1).trim();
  return t;
}
