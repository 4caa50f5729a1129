import * as vscode from 'vscode';
import { cleanMergeReply, MergeError, type ConsolidationMerger, type MergeUsage } from '../../core/upgrade';
import { estimateTokens } from '../../core/usage';
import { countOrEstimate, describeModelError, type EnrichmentChatModel } from './languageModelEnricher';

export interface LanguageModelMergerOptions {
  /** Per cluster; the request is cancelled after this (default 60 s). */
  timeoutMs?: number;
  /** A reply longer than this is refused (a runaway model must not exhaust memory). */
  maxReplyChars?: number;
}

/** A merged text longer than this many times the longest memory is not a merge (as the core's merger judges it). */
const MAX_GROWTH = 2;

const JUSTIFICATION = 'Memory Lane asks the model to merge memories that say the same thing into one (the "Consolidate Memories" command); you review every merge before it is written.';

/** The instructions; vscode.lm has no system role, so they go first, as a user message. */
export function mergePrompt(texts: string[]): string[] {
  return [
    'You merge notes that an AI assistant stored about one user or project and that say the same thing. '
      + 'Write ONE note that keeps every fact, name, number and decision found in any of them, drops repetition, '
      + 'and reads like the notes (same language, same register). Reply with the merged note only: no preface, no quotes, no markdown.',
    texts.map((t, i) => `Note ${i + 1}:\n${t}`).join('\n\n'),
  ];
}

/**
 * Consolidation's merger on the chat model the user chose in VS Code (`vscode.lm`), picked the way
 * the upgrade's enricher is (`memoryLane.enrichment.provider` = `languageModel`). Its tokens are the
 * model's own count of the prompt and the reply (`countTokens`; vscode.lm reports no usage), else
 * the estimate rule. A failure is a MergeError: the core then keeps the local rule's text for that
 * cluster, with the reason. It only proposes: the person accepts or rejects each merge in the preview.
 */
export class LanguageModelMerger implements ConsolidationMerger {
  readonly name: string;
  private readonly timeoutMs: number;
  private readonly maxReplyChars: number;
  /** Requests sent, for the log and tests. */
  requests = 0;

  constructor(private readonly chat: EnrichmentChatModel, options: LanguageModelMergerOptions = {}) {
    this.name = `vscode-lm/${chat.vendor}/${chat.family || chat.id}`;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxReplyChars = options.maxReplyChars ?? 32_000;
  }

  /** The estimate rule before a request is sent (budgets): the prompt, and a reply as long as the longest note. */
  estimate(texts: string[]): { in: number; out: number } {
    return { in: mergePrompt(texts).reduce((n, p) => n + estimateTokens(p), 0), out: estimateTokens(Math.max(0, ...texts.map((t) => t.length)) + 40) };
  }

  async merge(texts: string[], signal: AbortSignal): Promise<{ text: string; usage?: MergeUsage }> {
    if (signal.aborted) throw signal.reason ?? new vscode.CancellationError();
    const prompts = mergePrompt(texts);
    const cts = new vscode.CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; cts.cancel(); }, this.timeoutMs);
    let reply = '';
    // A reply cut off or refused was still produced by the model: its tokens are spent and reported.
    const fail = async (reason: string) => Object.assign(new MergeError(reason), { usage: await this.usage(prompts, reply) });
    try {
      this.requests++;
      const response = await this.chat.sendRequest(prompts.map((p) => vscode.LanguageModelChatMessage.User(p)), { justification: JUSTIFICATION }, cts.token);
      for await (const chunk of response.text) {
        reply += chunk;
        if (reply.length > this.maxReplyChars) {
          cts.cancel();
          throw await fail(`the reply is longer than ${this.maxReplyChars} characters; refused`);
        }
      }
    } catch (err) {
      if (signal.aborted) throw signal.reason ?? new vscode.CancellationError();
      if (err instanceof MergeError) throw err;
      throw await fail(`${this.name}: ${timedOut ? `no reply within ${this.timeoutMs} ms` : describeModelError(err)}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cts.dispose();
    }
    // The same checks as the core's OpenAI-compatible merger: a wrapped reply is unwrapped, an empty or rambling one refused.
    const text = cleanMergeReply(reply);
    if (!text) throw await fail('the reply has no text');
    const longest = texts.reduce((n, t) => Math.max(n, t.length), 0);
    if (text.length > Math.max(200, longest * MAX_GROWTH)) throw await fail(`the reply (${text.length} characters) is far longer than the memories it merges (at most ${longest})`);
    return { text, usage: await this.usage(prompts, reply) };
  }

  /** vscode.lm reports no usage: the model's own tokenizer counts the prompt and the reply. */
  private async usage(prompts: string[], reply: string): Promise<MergeUsage> {
    const [inTokens, outTokens] = await Promise.all([countOrEstimate(this.chat, prompts), countOrEstimate(this.chat, reply ? [reply] : [])]);
    return { in: inTokens.tokens, out: outTokens.tokens, calls: 1, source: inTokens.source === 'estimate' || outTokens.source === 'estimate' ? 'estimate' : 'countTokens' };
  }
}
