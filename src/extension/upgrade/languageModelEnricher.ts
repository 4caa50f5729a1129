import * as vscode from 'vscode';
import { EnrichmentError, ENRICHMENT_JSON_SCHEMA, enrichmentMessages, parseEnrichmentReply, type Enricher, type Enrichment, type EnrichmentInput } from '../../core/upgrade';

/** The part of a vscode.LanguageModelChat the enricher uses (tests pass a fake). */
export type EnrichmentChatModel = Pick<vscode.LanguageModelChat, 'id' | 'vendor' | 'family' | 'name' | 'sendRequest'>;

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

  async enrich(input: EnrichmentInput, signal: AbortSignal): Promise<Enrichment> {
    if (this.consecutiveTransportFailures >= this.breakAfter) {
      throw new EnrichmentError(`skipped: the last ${this.consecutiveTransportFailures} requests to ${this.model} failed (${this.lastTransportFailure})`, { transport: true });
    }
    if (signal.aborted) throw signal.reason ?? new vscode.CancellationError();
    const [system, user] = enrichmentMessages(input);
    // vscode.lm has no system role: the instructions go first, as a user message.
    const messages = [
      vscode.LanguageModelChatMessage.User(`${system!.content}\n\nThe JSON schema of your reply:\n${JSON.stringify(ENRICHMENT_JSON_SCHEMA)}`),
      vscode.LanguageModelChatMessage.User(user!.content),
    ];
    const cts = new vscode.CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; cts.cancel(); }, this.timeoutMs);
    let text = '';
    try {
      this.requests++;
      const response = await this.chat.sendRequest(messages, { justification: JUSTIFICATION }, cts.token);
      for await (const chunk of response.text) {
        text += chunk;
        if (text.length > this.maxReplyChars) {
          cts.cancel();
          throw new EnrichmentError(`the reply is longer than ${this.maxReplyChars} characters; refused`);
        }
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? new vscode.CancellationError();
      if (err instanceof EnrichmentError) throw err;
      const reason = timedOut ? `no reply within ${this.timeoutMs} ms` : describeModelError(err);
      this.consecutiveTransportFailures++;
      this.lastTransportFailure = reason;
      throw new EnrichmentError(`${this.model}: ${reason}`, { transport: true, retryable: timedOut, cause: err });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cts.dispose();
    }
    this.consecutiveTransportFailures = 0;
    const parsed = parseEnrichmentReply(text);
    if (!parsed.ok) throw new EnrichmentError(parsed.reason);
    return { ...parsed.value, confidence: parsed.value.confidence ?? 0.7, provider: this.provider, model: this.model };
  }
}

function describeModelError(err: unknown): string {
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
