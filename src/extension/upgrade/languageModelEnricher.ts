import * as vscode from 'vscode';
import { EnrichmentError, ENRICHMENT_JSON_SCHEMA, enrichmentMessages, parseEnrichmentReply, type Enricher, type Enrichment, type EnrichmentInput } from '../../core/upgrade';
import { estimateTokens, type TokenSource, type UsageSink } from '../../core/usage';

/** The part of a vscode.LanguageModelChat the enricher uses (tests pass a fake). */
export type EnrichmentChatModel = Pick<vscode.LanguageModelChat, 'id' | 'vendor' | 'family' | 'name' | 'sendRequest'> & Partial<Pick<vscode.LanguageModelChat, 'countTokens'>>;

export interface LanguageModelEnricherOptions {
  /** Entries in flight at once (default 4). */
  concurrency?: number;
  /** Per entry; the request is cancelled after this (default 60 s). */
  timeoutMs?: number;
  /** A reply longer than this is cut off and refused (a runaway model must not exhaust memory). */
  maxReplyChars?: number;
  /** After this many entries in a row could not reach the model, the rest fail fast (and fall back to local). */
  breakAfterFailures?: number;
}

const JUSTIFICATION = 'Memory Lane asks the model to write a one-sentence abstract, an overview and a category for each of your stored memories (the "Upgrade Memories" command).';

/**
 * Enrichment through the chat model the user chose in VS Code (`vscode.lm`): the same prompt and
 * reply contract as the openai-compatible enricher (src/core/upgrade/enrichmentReply.ts). Runs in
 * the upgrader's Phase 1, never under the store lock. Cancellation of the run cancels the request
 * in flight. Any failure of one entry is an EnrichmentError; the upgrader's FallbackEnricher then
 * enriches that entry locally and records why.
 */
export class LanguageModelEnricher implements Enricher {
  readonly provider = 'vscode-lm';
  readonly model: string;
  readonly concurrency: number;
  private readonly timeoutMs: number;
  private readonly maxReplyChars: number;
  private readonly breakAfter: number;
  private consecutiveTransportFailures = 0;
  private lastTransportFailure = '';
  /** Requests sent, for the log and tests. */
  requests = 0;

  constructor(private readonly chat: EnrichmentChatModel, options: LanguageModelEnricherOptions = {}) {
    this.model = `${chat.vendor}/${chat.family || chat.id}`;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxReplyChars = options.maxReplyChars ?? 64_000;
    this.breakAfter = options.breakAfterFailures ?? 3;
  }

  async enrich(input: EnrichmentInput, signal: AbortSignal, usage?: UsageSink): Promise<Enrichment> {
    if (this.consecutiveTransportFailures >= this.breakAfter) {
      throw new EnrichmentError(`skipped: the last ${this.consecutiveTransportFailures} requests to ${this.model} failed (${this.lastTransportFailure})`, { transport: true });
    }
    if (signal.aborted) throw signal.reason ?? new vscode.CancellationError();
    const prompts = this.prompts(input);
    this.requests++;
    const r = await sendChatRequest(this.chat, prompts, { justification: JUSTIFICATION, timeoutMs: this.timeoutMs, maxReplyChars: this.maxReplyChars }, signal);
    const text = r.reply;
    if (!r.ok) {
      // A reply cut off or refused was still produced by the model: its tokens are spent.
      if (usage && text) await this.report(usage, prompts, text, false);
      else usage?.({ purpose: 'enrich', provider: this.provider, model: this.model, in: 0, out: 0, calls: 1, source: 'countTokens', rows: 0 });
      if (r.kind === 'cancelled') throw signal.reason ?? new vscode.CancellationError();
      if (r.kind === 'too-long') throw new EnrichmentError(r.reason);
      this.consecutiveTransportFailures++;
      this.lastTransportFailure = r.reason;
      throw new EnrichmentError(`${this.model}: ${r.reason}`, { transport: true, retryable: r.kind === 'timeout', cause: r.cause });
    }
    this.consecutiveTransportFailures = 0;
    if (usage) await this.report(usage, prompts, text, true);
    const parsed = parseEnrichmentReply(text);
    if (!parsed.ok) throw new EnrichmentError(parsed.reason);
    return { ...parsed.value, confidence: parsed.value.confidence ?? 0.7, provider: this.provider, model: this.model };
  }

  /** What one entry's request says: vscode.lm has no system role, so the instructions go first, as a user message. */
  private prompts(input: EnrichmentInput): string[] {
    const [system, user] = enrichmentMessages(input);
    return [`${system!.content}\n\nThe JSON schema of your reply:\n${JSON.stringify(ENRICHMENT_JSON_SCHEMA)}`, user!.content];
  }

  /** The estimate rule before a request is sent (budgets, the dry run). */
  estimate(input: EnrichmentInput): { in: number; out: number } {
    return { in: this.prompts(input).reduce((n, p) => n + estimateTokens(p), 0), out: estimateTokens(input.text.length + 400) };
  }

  private async report(usage: UsageSink, prompts: string[], reply: string, ok: boolean): Promise<void> {
    const [inTokens, outTokens] = await Promise.all([countOrEstimate(this.chat, prompts), countOrEstimate(this.chat, [reply])]);
    const source: TokenSource = inTokens.source === 'estimate' || outTokens.source === 'estimate' ? 'estimate' : 'countTokens';
    usage({ purpose: 'enrich', provider: this.provider, model: this.model, in: inTokens.tokens, out: outTokens.tokens, calls: 1, source, rows: ok ? 1 : 0 });
  }
}

/** How one vscode.lm request ended; `reply` is what arrived (also of a failed one: its tokens are spent). */
export type ChatReply =
  | { ok: true; reply: string }
  | { ok: false; reply: string; kind: 'cancelled' | 'too-long' | 'timeout' | 'model'; reason: string; cause?: unknown };

/**
 * One request to a VS Code chat model, as the enricher and the merger send it: the prompts as user
 * messages (vscode.lm has no system role), cancelled when `signal` aborts or after `timeoutMs`, and
 * cut off once the reply passes `maxReplyChars` (a runaway model must not exhaust memory). Never throws.
 */
export async function sendChatRequest(chat: EnrichmentChatModel, prompts: string[], options: { justification: string; timeoutMs: number; maxReplyChars: number }, signal: AbortSignal): Promise<ChatReply> {
  const cts = new vscode.CancellationTokenSource();
  const onAbort = () => cts.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; cts.cancel(); }, options.timeoutMs);
  let reply = '';
  try {
    const response = await chat.sendRequest(prompts.map((p) => vscode.LanguageModelChatMessage.User(p)), { justification: options.justification }, cts.token);
    for await (const chunk of response.text) {
      reply += chunk;
      if (reply.length > options.maxReplyChars) {
        cts.cancel();
        if (signal.aborted) return { ok: false, reply, kind: 'cancelled', reason: 'cancelled' };
        return { ok: false, reply, kind: 'too-long', reason: `the reply is longer than ${options.maxReplyChars} characters; refused` };
      }
    }
    return { ok: true, reply };
  } catch (err) {
    if (signal.aborted) return { ok: false, reply, kind: 'cancelled', reason: 'cancelled', cause: err };
    if (timedOut) return { ok: false, reply, kind: 'timeout', reason: `no reply within ${options.timeoutMs} ms`, cause: err };
    return { ok: false, reply, kind: 'model', reason: describeModelError(err), cause: err };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    cts.dispose();
  }
}

/**
 * Tokens of one request: vscode.lm reports no usage, so the model's own tokenizer counts the prompt
 * and the reply (`countTokens`); a model without it, or a count that fails, falls back to the estimate rule.
 */
export async function countOrEstimate(chat: EnrichmentChatModel, texts: string[]): Promise<{ tokens: number; source: TokenSource }> {
  if (typeof chat.countTokens === 'function') {
    try {
      const counts = await Promise.all(texts.map((t) => chat.countTokens!(t)));
      if (counts.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) return { tokens: counts.reduce((a, b) => a + b, 0), source: 'countTokens' };
    } catch { /* estimate instead */ }
  }
  return { tokens: texts.reduce((n, t) => n + estimateTokens(t), 0), source: 'estimate' };
}

export function describeModelError(err: unknown): string {
  if (err instanceof vscode.LanguageModelError) {
    if (err.code === vscode.LanguageModelError.NoPermissions.name) return 'Memory Lane may not use this model (permission not granted)';
    if (err.code === vscode.LanguageModelError.Blocked.name) return 'the request was blocked (quota or rate limit)';
    if (err.code === vscode.LanguageModelError.NotFound.name) return 'the model is no longer available';
    return `${err.code || 'language model error'}: ${err.message}`;
  }
  if (err instanceof vscode.CancellationError) return 'the request was cancelled';
  return err instanceof Error ? err.message : String(err);
}

/**
 * The chat model for enrichment: the one named in `memoryLane.enrichment.languageModel` (an id), or
 * the person's choice from a quick pick (remembered in that setting). Undefined when none exists or
 * the person dismissed the pick.
 */
export async function pickChatModel(preferred: string, remember: (id: string) => Promise<void>, ask = true): Promise<vscode.LanguageModelChat | undefined> {
  const models = await vscode.lm.selectChatModels();
  if (preferred) {
    const found = models.find((m) => m.id === preferred) ?? models.find((m) => m.family === preferred);
    if (found) return found;
  }
  if (models.length === 0) return undefined;
  if (models.length === 1 || !ask) return models[0];
  const choice = await vscode.window.showQuickPick(models.map((m) => ({ label: m.name, description: `${m.vendor} · ${m.family}`, detail: `up to ${m.maxInputTokens} input tokens`, model: m })), {
    title: 'Memory Lane: chat model for enriching memories',
    placeHolder: 'Which model writes the abstracts, overviews and categories?',
  });
  if (!choice) return undefined;
  await remember(choice.model.id);
  return choice.model;
}
