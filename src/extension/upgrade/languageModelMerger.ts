import * as vscode from 'vscode';
import { cleanMergeReply, MergeError, mergeReplyProblem, type ConsolidationMerger, type MergeUsage } from '../../core/upgrade';
import { estimateTokens } from '../../core/usage';
import { countOrEstimate, sendChatRequest, type EnrichmentChatModel } from './languageModelEnricher';

export interface LanguageModelMergerOptions {
  /** Per cluster; the request is cancelled after this (default 60 s). */
  timeoutMs?: number;
  /** A reply longer than this is refused (a runaway model must not exhaust memory). */
  maxReplyChars?: number;
}

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
    this.requests++;
    const r = await sendChatRequest(this.chat, prompts, { justification: JUSTIFICATION, timeoutMs: this.timeoutMs, maxReplyChars: this.maxReplyChars }, signal);
    const reply = r.reply;
    // A reply cut off or refused was still produced by the model: its tokens are spent and reported.
    const fail = async (reason: string) => Object.assign(new MergeError(reason), { usage: await this.usage(prompts, reply) });
    if (!r.ok) {
      if (r.kind === 'cancelled') throw signal.reason ?? new vscode.CancellationError();
      throw await fail(r.kind === 'too-long' ? r.reason : `${this.name}: ${r.reason}`);
    }
    // The same checks as the core's OpenAI-compatible merger: a wrapped reply is unwrapped, an empty or rambling one refused.
    const text = cleanMergeReply(reply);
    const problem = mergeReplyProblem(text, texts);
    if (problem) throw await fail(problem);
    return { text, usage: await this.usage(prompts, reply) };
  }

  /** vscode.lm reports no usage: the model's own tokenizer counts the prompt and the reply. */
  private async usage(prompts: string[], reply: string): Promise<MergeUsage> {
    const [inTokens, outTokens] = await Promise.all([countOrEstimate(this.chat, prompts), countOrEstimate(this.chat, reply ? [reply] : [])]);
    return { in: inTokens.tokens, out: outTokens.tokens, calls: 1, source: inTokens.source === 'estimate' || outTokens.source === 'estimate' ? 'estimate' : 'countTokens' };
  }
}
