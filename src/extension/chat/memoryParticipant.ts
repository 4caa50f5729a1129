import * as vscode from 'vscode';
import { errorCode, errorMessage } from '../../core/errors';
import type { Logger } from '../../core/log';
import type { MemoryService, MemoryView, RecallResult } from '../../core/memoryService';
import { Disposable } from '../disposable';
import { Commands, focusViewCommand, PARTICIPANT_ID, Views } from '../ids';
import type { StoreConnection } from '../storeConnection';
import { DATA_NOTICE, preview, scopeLabel } from '../tools/format';
import { groupByWriter, listRecent, RECENT_MS } from '../views/memoriesTree';
import { participantWriter, writerLabel } from '../writers';

/** What the handler writes to: the parts of `ChatResponseStream` it uses (tests pass a recorder). */
export type ParticipantStream = Pick<vscode.ChatResponseStream, 'markdown' | 'button' | 'progress'>;

/** The parts of a `ChatRequest` the handler reads; `model` is absent when chat has none. */
export interface ParticipantRequest {
  prompt: string;
  command?: string;
  model?: vscode.LanguageModelChat;
}

export type ParticipantCommand = 'recall' | 'remember' | 'forget' | 'review' | 'stats';
export const PARTICIPANT_COMMANDS: readonly ParticipantCommand[] = ['recall', 'remember', 'forget', 'review', 'stats'];

/** `metadata` of the ChatResult: which command ran and which memories it showed. */
export interface ParticipantResultMetadata {
  command: ParticipantCommand | 'help';
  ids: string[];
}

const RECALL_LIMIT = 5;
const REVIEW_LIMIT = 30;
/** A memory id or a unique prefix of one: what `/forget` treats as an id rather than a search. */
const ID_LIKE = /^[\w:.-]{8,}$/;

/**
 * A memory's text (or a writer's name) as literal markdown text: every character markdown could read
 * as markup, a link or HTML is backslash-escaped. (MarkdownString.appendText also escapes, but turns
 * every space into `&nbsp;`, which stops chat from wrapping long memories.)
 */
export function escapeMarkdown(text: string): string {
  // Inline markup anywhere; block markup (a heading, a list item) only where a line starts.
  return text.replace(/[\\`*_{}[\]<>&|~!]/g, '\\$&').replace(/^(\s*)([#+-])/gm, '$1\\$2').replace(/^(\s*\d+)([.)])/gm, '$1\\$2');
}

/**
 * `@memory` in chat: answers from the store directly, so every command works without a chat
 * model. `/recall` (and a bare question) lists the memories with ids, scopes and who wrote them,
 * then — only when the request has a model — adds a short summary that cites the ids. Buttons run
 * the existing commands (Open, Edit…, Forget, Keep); nothing is deleted without the modal
 * confirmation of Forget Memory. Stores record writer kind `participant`.
 */
export class MemoryParticipant extends Disposable {
  /** Requests VS Code's chat sent to `@memory` (not counting {@link handle} called directly). */
  chatRequests = 0;

  constructor(private readonly connection: StoreConnection, private readonly log: Logger, extensionUri: vscode.Uri) {
    super();
    const participant = this._register(vscode.chat.createChatParticipant(PARTICIPANT_ID, (request, _context, stream, token) => {
      this.chatRequests++;
      return this.handle({ prompt: request.prompt, command: request.command, model: request.model }, stream, token);
    }));
    participant.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'memory-lane.svg');
    participant.followupProvider = {
      provideFollowups: (result: vscode.ChatResult) => {
        const meta = result.metadata as ParticipantResultMetadata | undefined;
        if (meta?.command === 'review') return [];
        return [{ prompt: '', command: 'review', label: 'What did agents store recently?' }];
      },
    };
  }

  /** Answers one request; also what the end-to-end tests call (through the extension's API). */
  async handle(request: ParticipantRequest, stream: ParticipantStream, token: vscode.CancellationToken): Promise<vscode.ChatResult> {
    const command = (PARTICIPANT_COMMANDS as readonly string[]).includes(request.command ?? '') ? (request.command as ParticipantCommand) : undefined;
    const prompt = request.prompt.trim();
    try {
      if (!command && !prompt) return this.help(stream);
      const service = await this.connection.service();
      switch (command ?? 'recall') {
        case 'recall': return await this.recall(service, prompt, request.model, stream, token);
        case 'remember': return await this.remember(service, prompt, request.model, stream);
        case 'forget': return await this.forget(service, prompt, stream);
        case 'review': return await this.review(service, stream);
        case 'stats': return await this.stats(service, stream);
      }
    } catch (err) {
      if (token.isCancellationRequested) return {};
      this.log.warn(`@memory /${command ?? 'recall'} failed (${errorCode(err)}): ${errorMessage(err)}`);
      stream.markdown(`**Memory Lane could not answer:** ${escapeMarkdown(`${errorCode(err)}: ${errorMessage(err)}`)}`);
      return { errorDetails: { message: errorMessage(err) }, metadata: { command: command ?? 'recall', ids: [] } satisfies ParticipantResultMetadata };
    }
    return {};
  }

  private help(stream: ParticipantStream): vscode.ChatResult {
    stream.markdown([
      'Ask your long-term memory:',
      '',
      '- `/recall <topic>` — the memories about it, with ids and scopes (a question without a command does the same)',
      '- `/remember <fact>` — store one fact for later sessions and other agents',
      '- `/forget <id or search>` — find what to delete; you confirm each',
      '- `/review` — what was stored in the last 24 hours, by whom, to keep, edit or forget',
      '- `/stats` — how many memories, where, and how many await review',
    ].join('\n'));
    return { metadata: { command: 'help', ids: [] } satisfies ParticipantResultMetadata };
  }

  private async recall(service: MemoryService, query: string, model: vscode.LanguageModelChat | undefined, stream: ParticipantStream, token: vscode.CancellationToken): Promise<vscode.ChatResult> {
    if (!query) {
      stream.markdown('What should I recall? Type a topic after `/recall`, e.g. `/recall how we release`.');
      return { metadata: { command: 'recall', ids: [] } satisfies ParticipantResultMetadata };
    }
    stream.progress('Recalling…');
    // A person reads these: not counted as an agent's recall; the caller is the participant (requireApproval).
    const r = await service.recall(query, { limit: RECALL_LIMIT, full: true, count: false, caller: participantWriter() });
    if (r.results.length === 0) {
      stream.markdown(`No memory matches “${escapeMarkdown(preview(query, 80))}”.`);
      return { metadata: { command: 'recall', ids: [] } satisfies ParticipantResultMetadata };
    }
    const full = await Promise.all(r.results.map((x) => service.get(x.id).catch(() => undefined)));
    stream.markdown(`**${r.results.length} ${r.results.length === 1 ? 'memory' : 'memories'}** for “${escapeMarkdown(preview(query, 80))}” (${r.mode}, ${Math.round(r.ms)} ms):\n\n`);
    r.results.forEach((m, i) => this.renderMemory(stream, i + 1, m, full[i]));
    if (model) await this.summarize(model, query, r.results, stream, token);
    return { metadata: { command: 'recall', ids: r.results.map((m) => m.id) } satisfies ParticipantResultMetadata };
  }

  /** A short answer over the recalled memories, citing ids. The memories go in as quoted JSON data. */
  private async summarize(model: vscode.LanguageModelChat, query: string, results: RecallResult[], stream: ParticipantStream, token: vscode.CancellationToken): Promise<void> {
    const data = results.map((m) => `- [${m.id}] (${m.category}, ${scopeLabel(m.scope, this.connection.workspaceScope)}) ${JSON.stringify(preview(m.text, 1200))}`).join('\n');
    const prompt = [
      `In two or three sentences, say what these memories tell about ${JSON.stringify(preview(query, 200))}.`,
      'Cite each memory you use as (memory <id>). Say so when they disagree or nothing is relevant.',
      DATA_NOTICE,
      '',
      data,
    ].join('\n');
    try {
      const response = await model.sendRequest([vscode.LanguageModelChatMessage.User(prompt)], { justification: 'Summarize the recalled memories for you.' }, token);
      stream.markdown('\n**Summary** (by the chat model):\n\n');
      for await (const fragment of response.text) stream.markdown(fragment);
    } catch (err) {
      if (token.isCancellationRequested) return;
      this.log.info(`@memory: no summary (${errorMessage(err)})`);
      stream.markdown(`\n_No summary: ${escapeMarkdown(preview(errorMessage(err), 200))}_`);
    }
  }

  private async remember(service: MemoryService, text: string, model: vscode.LanguageModelChat | undefined, stream: ParticipantStream): Promise<vscode.ChatResult> {
    if (!text) {
      stream.markdown('Type the fact after `/remember`, e.g. `/remember We release on Tuesdays.` To have the agent store what this conversation settled, use the `/remember` prompt instead.');
      return { metadata: { command: 'remember', ids: [] } satisfies ParticipantResultMetadata };
    }
    stream.progress('Storing…');
    const writer = participantWriter(model);
    const r = await service.store({ text, writer });
    const ws = this.connection.workspaceScope;
    if (r.status === 'duplicate') {
      stream.markdown(`Not stored: memory \`${r.duplicateOf}\` (${scopeLabel(r.existing.scope, ws)}) already says nearly the same (similarity ${r.similarity.toFixed(2)}). Edit it instead:\n\n`);
      this.renderMemory(stream, undefined, r.existing, r.existing);
      return { metadata: { command: 'remember', ids: [r.duplicateOf] } satisfies ParticipantResultMetadata };
    }
    // The person typed these exact words: nothing to review.
    if (r.status === 'stored') await service.keep([r.id], { writer });
    const m = await service.get(r.id);
    stream.markdown(`${r.status === 'stored' ? 'Stored' : 'Already stored'} as \`${m.id}\` in ${scopeLabel(m.scope, ws)} (${m.category}):\n\n`);
    this.renderMemory(stream, undefined, m, m);
    return { metadata: { command: 'remember', ids: [m.id] } satisfies ParticipantResultMetadata };
  }

  private async forget(service: MemoryService, target: string, stream: ParticipantStream): Promise<vscode.ChatResult> {
    if (!target) {
      stream.markdown('Which memory? Give its id (from `/recall` or the Memories view) or a few words to search for, e.g. `/forget bikeshed colour`.');
      return { metadata: { command: 'forget', ids: [] } satisfies ParticipantResultMetadata };
    }
    if (ID_LIKE.test(target)) {
      const m = await service.get(target).catch(() => undefined);
      if (m) {
        stream.markdown('Forget this memory? **Forget** asks you to confirm.\n\n');
        this.renderMemory(stream, undefined, m, m);
        return { metadata: { command: 'forget', ids: [m.id] } satisfies ParticipantResultMetadata };
      }
    }
    const r = await service.forgetByQuery(target, { confirm: false, limit: RECALL_LIMIT });
    if (r.candidates.length === 0) {
      stream.markdown(`No memory matches “${escapeMarkdown(preview(target, 80))}”; nothing to forget.`);
      return { metadata: { command: 'forget', ids: [] } satisfies ParticipantResultMetadata };
    }
    stream.markdown(`${r.candidates.length === 1 ? 'This memory matches' : `These ${r.candidates.length} memories match`} “${escapeMarkdown(preview(target, 80))}”. Nothing is deleted until you press **Forget…** on one and confirm.\n\n`);
    const full = await Promise.all(r.candidates.map((x) => service.get(x.id).catch(() => undefined)));
    r.candidates.forEach((m, i) => this.renderMemory(stream, i + 1, m, full[i]));
    return { metadata: { command: 'forget', ids: r.candidates.map((m) => m.id) } satisfies ParticipantResultMetadata };
  }

  private async review(service: MemoryService, stream: ParticipantStream): Promise<vscode.ChatResult> {
    const [page, unreviewed] = await Promise.all([listRecent(service, REVIEW_LIMIT), service.unreviewedCount()]);
    if (page.total === 0) {
      stream.markdown(`Nothing was stored in the last 24 hours.${unreviewed ? ` ${unreviewed} older ${unreviewed === 1 ? 'memory awaits' : 'memories await'} review in the Memories view.` : ''}`);
      return { metadata: { command: 'review', ids: [] } satisfies ParticipantResultMetadata };
    }
    stream.markdown(`**Stored in the last 24 hours: ${page.total}**, ${page.unreviewed} of them by agents and not reviewed yet${unreviewed > page.unreviewed ? ` (${unreviewed} in all, counting older ones)` : ''}.${page.total > page.items.length ? ` Below: the ${page.items.length} newest, those awaiting review first.` : ''} **Keep** marks an agent's memory reviewed.\n\n`);
    const ids: string[] = [];
    for (const group of groupByWriter(page.items)) {
      if (group.kind !== 'writer') continue;
      stream.markdown(`### ${escapeMarkdown(group.label)} — ${group.memories.length}${group.unreviewed ? `, ${group.unreviewed} to review` : ''}\n\n`);
      for (const m of group.memories) {
        this.renderMemory(stream, undefined, m, m);
        ids.push(m.id);
      }
    }
    stream.button({ command: focusViewCommand(Views.memories), title: 'Open the Memories view' });
    return { metadata: { command: 'review', ids } satisfies ParticipantResultMetadata };
  }

  private async stats(service: MemoryService, stream: ParticipantStream): Promise<vscode.ChatResult> {
    const [s, unreviewed, recent] = await Promise.all([service.stats(), service.unreviewedCount(), service.list({ since: Date.now() - RECENT_MS, limit: 1 })]);
    const ws = this.connection.workspaceScope;
    const scopes = Object.entries(s.byScope).sort(([, a], [, b]) => b - a);
    const categories = Object.entries(s.byCategory).sort(([, a], [, b]) => b - a);
    const lines = [
      `**${s.rows} memories** in \`${s.dir}\` · ${s.legacy} legacy (not upgraded) · ${recent.total} stored in the last 24 h · **${unreviewed} awaiting review** · ${(s.diskBytes / 1024 / 1024).toFixed(1)} MB on disk`,
      '',
      '| scope | memories |',
      '|---|--:|',
      ...scopes.map(([scope, n]) => `| ${scope === ws ? `\`${scope}\` (this workspace)` : `\`${scope}\``} | ${n} |`),
      '',
      '| category | memories |',
      '|---|--:|',
      ...categories.map(([c, n]) => `| ${c} | ${n} |`),
      '',
      `Embedder: ${s.embedding.active ?? 'none'}${s.embedding.needsReembed ? ' (re-embed needed)' : ''} · dead letters: ${s.deadLetters}`,
    ];
    stream.markdown(lines.join('\n'));
    if (unreviewed) stream.button({ command: focusViewCommand(Views.memories), title: `Review ${unreviewed} in the Memories view` });
    return { metadata: { command: 'stats', ids: [] } satisfies ParticipantResultMetadata };
  }

  /**
   * One memory: number, id, scope, category, writer and review state, the text as a quote, then the
   * buttons. `full` (the stored memory) adds the writer and review state, which a recall result lacks.
   */
  private renderMemory(stream: ParticipantStream, n: number | undefined, m: MemoryView | RecallResult, full: MemoryView | undefined): void {
    const ws = this.connection.workspaceScope;
    const bits = [`\`${m.id}\``, scopeLabel(m.scope, ws), m.category];
    if ('score' in m) bits.push(`score ${m.score.toFixed(2)}`);
    if (full) bits.push(`by ${escapeMarkdown(writerLabel(full.writer))}`);
    const waiting = full?.reviewed === false;
    if (waiting) bits.push('**not reviewed**');
    // A memory's text is shown as written, never rendered as markup, links or HTML.
    stream.markdown(`${n !== undefined ? `${n}. ` : ''}${bits.join(' · ')}\n\n> ${escapeMarkdown(preview(m.text, 500))}\n\n`);
    if (waiting) stream.button({ command: Commands.keepMemory, title: 'Keep', arguments: [m.id] });
    stream.button({ command: Commands.openMemory, title: 'Open', arguments: [m.id] });
    stream.button({ command: Commands.editMemory, title: 'Edit…', arguments: [m.id] });
    stream.button({ command: Commands.forgetMemory, title: 'Forget…', arguments: [m.id] });
  }
}
