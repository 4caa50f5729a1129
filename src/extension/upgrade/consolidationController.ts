import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { BusyError, errorCode, errorMessage, ValidationError } from '../../core/errors';
import { CONSOLIDATE_DEFAULTS } from '../../core/defaults';
import { componentLogger, type Logger } from '../../core/log';
import {
  consolidate, embedFnOf, planConsolidation, restoreOriginal, undoConsolidation,
  type ConsolidateProgress, type ConsolidateResult, type ConsolidationMerger, type PlannedCluster, type UndoResult, type UpgradeBudget,
} from '../../core/upgrade';
import { OpenAiCompatibleMerger } from '../../core/upgrade';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { Commands, ContextKeys } from '../ids';
import { reportError, reportJobFailure, showAlreadyRunning, type BackgroundJob } from '../notifications';
import type { ApiKeys } from '../secrets';
import type { StoreConnection } from '../storeConnection';
import { LanguageModelMerger } from './languageModelMerger';
import { pickChatModel } from './languageModelEnricher';
import { memories } from '../views/consolidationText';

export type ClusterDecision = 'accepted' | 'rejected';

/**
 * One consolidation of this window, from planning to the written result, as the preview and the
 * Locks & Upgrades view show it. `key` names the plan (and its preview) before there is a run id.
 */
export interface ConsolidationRecord {
  key: string;
  /** Only this scope; undefined = every scope (clusters never cross scopes). */
  scope?: string;
  threshold: number;
  /** `local` (the most complete, newest text) or the model that proposes merged texts. */
  merger: string;
  budget?: UpgradeBudget;
  pricePer1k?: number;
  startedAt: number;
  stage: 'planning' | 'review' | 'merging' | 'done' | 'discarded' | 'failed';
  progress?: ConsolidateProgress;
  scanned?: number;
  clusters?: PlannedCluster[];
  /** Tokens and calls the planning's merger spent (proposals are written while planning). */
  planTokens?: { in: number; out: number };
  planCalls?: number;
  /** A budget ended the merger's proposals part-way (the rest keep the local rule's text). */
  planStoppedBy?: string;
  decisions: Map<string, ClusterDecision>;
  mergingStartedAt?: number;
  finishedAt?: number;
  result?: ConsolidateResult;
  undone?: UndoResult;
  error?: { code: string; message: string };
}

export interface ConsolidateCommandOptions {
  /** A scope, or null for every scope; undefined asks. */
  scope?: string | null;
  threshold?: number;
  /** Don't open the preview (tests open it themselves). */
  noPreview?: boolean;
}

const HISTORY = 5;
const CONSOLIDATION: BackgroundJob = { title: 'Consolidate Memories', doing: 'consolidating' };

/**
 * Consolidate Memories…: plans (no lock, cancellable, with progress), keeps the plan for the
 * person's review in the preview (ConsolidationPreview), writes only the accepted clusters
 * (`plan` + `onlyClusters`: nothing is planned twice), reports what was merged, skipped and
 * rejected with an Undo, and restores one survivor's originals. The merger is chosen from the
 * same settings as the upgrade's enricher; its tokens count against the upgrade's budgets.
 */
export class ConsolidationController extends Disposable {
  private readonly records = new Map<string, ConsolidationRecord>();
  private readonly finished: ConsolidationRecord[] = [];
  private running: { record: ConsolidationRecord; abort: AbortController; done: Promise<unknown> } | undefined;
  private readonly log: Logger;
  private readonly _onDidChange = this._register(new vscode.EventEmitter<ConsolidationRecord | undefined>());
  /** A plan or run changed (progress, decisions, end). */
  readonly onDidChange = this._onDidChange.event;
  private lastFire = 0;

  constructor(
    private readonly connection: StoreConnection,
    private readonly config: Configuration,
    private readonly keys: ApiKeys,
    private readonly coreLog: Logger,
  ) {
    super();
    this.log = componentLogger(coreLog, 'consolidate');
    this._register({ dispose: () => this.running?.abort.abort() });
    this._register(connection.onWillClose(async () => {
      if (this.cancel()) await this.running?.done.catch(() => undefined);
    }));
  }

  /** The plan being made or the run being written in this window. */
  get current(): ConsolidationRecord | undefined {
    return this.running?.record;
  }

  /** Plans waiting for review, newest first. */
  get toReview(): ConsolidationRecord[] {
    return [...this.records.values()].filter((r) => r.stage === 'review').reverse();
  }

  /** Finished runs of this window (written, failed), newest first. */
  get history(): readonly ConsolidationRecord[] {
    return this.finished;
  }

  record(key: string): ConsolidationRecord | undefined {
    return this.records.get(key) ?? this.finished.find((r) => r.result?.runId === key);
  }

  /** Stops planning, or writing after the step in flight (whole clusters only). */
  cancel(): boolean {
    if (!this.running) return false;
    this.log.info('cancel requested');
    this.running.abort.abort(new vscode.CancellationError());
    return true;
  }

  /** Plans a consolidation and keeps it for review; undefined when nothing was planned (the reason was shown). */
  async plan(options: ConsolidateCommandOptions = {}): Promise<ConsolidationRecord | undefined> {
    if (this.running) {
      showAlreadyRunning('a consolidation is already running in this window.', 'Cancel Consolidation', () => this.cancel());
      return undefined;
    }
    const service = await this.connection.service();
    const scope = options.scope === undefined ? await this.pickScope() : options.scope ?? undefined;
    if (scope === false) return undefined;
    const threshold = options.threshold ?? this.config.get('consolidate.threshold');
    if (!(threshold > 0 && threshold <= 1)) throw new ValidationError('threshold', `must be a number in (0, 1], got ${threshold}`);
    const merger = await this.createMerger();
    if (merger === false) return undefined;
    const record: ConsolidationRecord = {
      key: randomUUID(),
      ...(scope ? { scope } : {}),
      threshold,
      merger: merger?.name ?? 'local',
      ...this.budgetOf(merger),
      startedAt: Date.now(),
      stage: 'planning',
      decisions: new Map(),
    };
    this.records.set(record.key, record);
    const abort = new AbortController();
    const done = Promise.resolve(vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Memory Lane: finding memories that say the same thing${scope ? ` in ${scope}` : ''}`,
      cancellable: true,
    }, async (progress, token) => {
      token.onCancellationRequested(() => abort.abort(new vscode.CancellationError()));
      const plan = await planConsolidation(service.memoryStore, {
        ...(scope ? { scope } : {}),
        threshold,
        minOverlap: CONSOLIDATE_DEFAULTS.minOverlap,
        ...(merger ? { merger } : {}),
        ...(record.budget ? { budget: record.budget } : {}),
        signal: abort.signal,
        onProgress: (p) => {
          record.progress = p;
          progress.report({ message: planMessage(p) });
          this.changed(record);
        },
      });
      return plan;
    }));
    this.running = { record, abort, done };
    this.setRunning(true);
    this.changed(record, true);
    this.log.info(`planning${scope ? ` scope ${scope}` : ' every scope'} (threshold ${threshold}, merger ${record.merger})`);
    try {
      const plan = await done;
      record.scanned = plan.scanned;
      record.clusters = plan.clusters;
      const planTokens = record.progress?.tokens ?? { in: 0, out: 0 };
      record.planTokens = plan.tokens ? { in: plan.tokens.in, out: plan.tokens.out } : planTokens;
      record.planCalls = plan.calls ?? record.progress?.calls ?? 0;
      if (plan.stoppedBy) {
        record.planStoppedBy = plan.stoppedBy.message;
        this.log.warn(`planning stopped by a budget: ${plan.stoppedBy.message}; the remaining clusters keep the local rule's text`);
      }
      record.stage = 'review';
      this.log.info(`plan ${record.key}: ${plan.clusters.length} clusters among ${plan.scanned} memories${record.planCalls ? `; ${planTokens.in + planTokens.out} tokens in ${record.planCalls} calls` : ''}`);
    } catch (err) {
      this.records.delete(record.key);
      record.stage = 'failed';
      if (abort.signal.aborted) {
        this.log.info('planning cancelled');
        return undefined;
      }
      record.error = { code: errorCode(err), message: errorMessage(err) };
      this.remember(record);
      reportError(CONSOLIDATION.title, err, this.log);
      return undefined;
    } finally {
      this.running = undefined;
      this.setRunning(false);
      this.updateReviewContext();
      this.changed(record, true);
    }
    if (record.clusters!.length === 0) {
      this.records.delete(record.key);
      this.updateReviewContext();
      void vscode.window.showInformationMessage(`Memory Lane: no memories say the same thing${scope ? ` in ${scope}` : ''} (${record.scanned} looked at, similarity ≥ ${threshold}).`);
      return record;
    }
    return record;
  }

  decide(key: string, clusterId: string, decision: ClusterDecision | undefined): void {
    const record = this.reviewable(key);
    if (!record.clusters!.some((c) => c.id === clusterId)) throw new ValidationError('cluster', `no cluster ${clusterId} in this plan`);
    if (decision) record.decisions.set(clusterId, decision);
    else record.decisions.delete(clusterId);
    this.changed(record, true);
  }

  decideAll(key: string, decision: ClusterDecision | undefined): void {
    const record = this.reviewable(key);
    for (const c of record.clusters!) {
      if (decision) record.decisions.set(c.id, decision);
      else record.decisions.delete(c.id);
    }
    this.changed(record, true);
  }

  /** Forgets a plan without writing anything. */
  discard(key: string): void {
    const record = this.reviewable(key);
    record.stage = 'discarded';
    this.records.delete(key);
    this.updateReviewContext();
    this.changed(record, true);
  }

  /** Writes the accepted clusters of a plan; the others are reported rejected. */
  async apply(key: string, options: { quiet?: boolean } = {}): Promise<ConsolidateResult | undefined> {
    const record = this.reviewable(key);
    if (this.running) throw new BusyError('a consolidation is already running in this window', undefined);
    const accepted = record.clusters!.filter((c) => record.decisions.get(c.id) === 'accepted').map((c) => c.id);
    const service = await this.connection.service();
    const embedder = service.activeEmbedder;
    const abort = new AbortController();
    record.stage = 'merging';
    record.mergingStartedAt = Date.now();
    const done = Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Memory Lane: consolidating memories', cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => abort.abort(new vscode.CancellationError()));
      let reported = 0;
      return consolidate(service.memoryStore, {
        ...(record.scope ? { scope: record.scope } : {}),
        threshold: record.threshold,
        plan: record.clusters!,
        onlyClusters: accepted,
        // A merged text other than the survivor's needs a new vector, from the store's embedder.
        ...(embedder ? { embed: embedFnOf(embedder) } : {}),
        ...(record.budget ? { budget: record.budget } : {}),
        signal: abort.signal,
        logger: this.coreLog,
        onProgress: (p) => {
          record.progress = p;
          const pct = p.clustersTotal ? Math.floor((p.clustersDone / p.clustersTotal) * 100) : 0;
          progress.report({ increment: Math.max(0, pct - reported), message: `${p.clustersDone}/${p.clustersTotal} clusters · ${p.merged} merged · ${p.skipped} skipped` });
          reported = Math.max(reported, pct);
          this.changed(record);
        },
      });
    }));
    this.running = { record, abort, done };
    this.setRunning(true);
    this.updateReviewContext();
    this.changed(record, true);
    this.log.info(`writing plan ${key}: ${accepted.length} of ${record.clusters!.length} clusters accepted`);
    let result: ConsolidateResult | undefined;
    try {
      result = await done;
      record.result = result;
      record.stage = 'done';
    } catch (err) {
      record.stage = 'failed';
      record.error = { code: errorCode(err), message: errorMessage(err) };
      reportJobFailure(CONSOLIDATION, err, this.log);
    } finally {
      record.finishedAt = Date.now();
      this.running = undefined;
      this.records.delete(key);
      this.remember(record);
      this.setRunning(false);
      this.updateReviewContext();
      this.changed(record, true);
    }
    if (result) this.summarize(record, result, options.quiet === true);
    return result;
  }

  /** Puts a run back (members restored exactly; a survivor changed since is kept). */
  async undo(runId: string, options: { quiet?: boolean } = {}): Promise<UndoResult> {
    const service = await this.connection.service();
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Memory Lane: undoing a consolidation' }, () => undoConsolidation(service.memoryStore, runId, { logger: this.coreLog }));
    const record = this.finished.find((x) => x.result?.runId === runId);
    if (record) record.undone = r;
    const msg = `undid consolidation ${runId}: ${r.restored} memories restored in ${r.clusters} clusters${r.changedSince.length ? `; ${r.changedSince.length} survivors changed since were kept as they are` : ''}`;
    this.log.info(msg);
    if (!options.quiet) void vscode.window.showInformationMessage(`Memory Lane: ${msg}.`);
    this._onDidChange.fire(record);
    return r;
  }

  /** Restores one merged memory exactly as it was, beside its survivor (which drops it from `merged_from`). */
  async restore(memoryId: string, options: { quiet?: boolean } = {}): Promise<{ restored: string; survivor: string; runId: string }> {
    const service = await this.connection.service();
    const r = await restoreOriginal(service.memoryStore, memoryId, { logger: this.log });
    const msg = `restored ${r.restored}, merged into ${r.survivor} by consolidation ${r.runId}`;
    this.log.info(msg);
    if (!options.quiet) void vscode.window.showInformationMessage(`Memory Lane: ${msg}.`);
    return r;
  }

  private reviewable(key: string): ConsolidationRecord {
    const record = this.records.get(key);
    if (!record || record.stage !== 'review') throw new ValidationError('plan', `the consolidation plan ${key} is not waiting for review (applied, discarded, or from another window session)`);
    return record;
  }

  private summarize(record: ConsolidationRecord, r: ConsolidateResult, quiet: boolean): void {
    const parts = [`merged ${r.merged.length} ${r.merged.length === 1 ? 'cluster' : 'clusters'} (${memories(r.removed)} folded into ${r.merged.length === 1 ? 'its survivor' : 'their survivors'})`];
    if (r.skipped.length) parts.push(`${r.skipped.length} skipped (changed meanwhile)`);
    if (r.rejected.length) parts.push(`${r.rejected.length} rejected`);
    const calls = (record.planCalls ?? 0) + (r.calls ?? 0);
    if (calls) parts.push(`${spentTokens(record)} tokens in ${calls} calls`);
    const status = r.cancelled ? ' (cancelled: whole clusters only)' : r.stoppedBy ? ` (stopped: ${r.stoppedBy.message})` : '';
    const message = `Memory Lane: ${parts.join(', ')}${status}.`;
    this.log.info(`run ${r.runId}: ${parts.join(', ')}${status}`);
    for (const s of r.skipped) this.log.info(`run ${r.runId}: skipped ${s.survivor} ← ${s.members.join(', ')}: ${s.reason}`);
    if (quiet) return;
    const actions = r.merged.length ? ['Undo', 'Show Logs'] : ['Show Logs'];
    void vscode.window.showInformationMessage(message, ...actions).then((choice) => {
      if (choice === 'Undo') void vscode.commands.executeCommand(Commands.undoConsolidation, r.runId);
      else if (choice === 'Show Logs') void vscode.commands.executeCommand(Commands.showLogs);
    });
  }

  private remember(record: ConsolidationRecord): void {
    this.finished.unshift(record);
    this.finished.splice(HISTORY);
  }

  /** Progress fires often; views throttle too, but don't wake them more than 4 times a second. */
  private changed(record: ConsolidationRecord, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastFire < 250) return;
    this.lastFire = now;
    this._onDidChange.fire(record);
  }

  private setRunning(running: boolean): void {
    void vscode.commands.executeCommand('setContext', ContextKeys.consolidationRunning, running);
  }

  private updateReviewContext(): void {
    void vscode.commands.executeCommand('setContext', ContextKeys.consolidationToReview, this.toReview.length > 0);
  }

  /** The scope to consolidate (undefined = every scope), or false when the person backed out. */
  private async pickScope(): Promise<string | undefined | false> {
    const service = await this.connection.service();
    const counts = new Map<string, number>();
    for (const row of await service.memoryStore.rows(undefined, { columns: ['scope'] })) {
      const s = String((row as { scope?: unknown }).scope ?? '');
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    const ws = this.connection.workspaceScope;
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const scopes = [...counts.entries()].sort(([a], [b]) => Number(b === ws) - Number(a === ws) || a.localeCompare(b));
    const pick = await vscode.window.showQuickPick([
      { label: '$(layers) Every scope', description: `${total} memories`, detail: 'Each scope on its own: memories of different scopes are never merged.', scope: undefined as string | undefined },
      ...scopes.map(([s, n]) => ({ label: `${s === ws ? '$(root-folder) This workspace' : s === 'global' ? '$(globe) global' : `$(folder-library) ${s}`}`, description: `${s === ws ? `${s} · ` : ''}${n} memories`, scope: s })),
    ], { title: 'Memory Lane: consolidate which memories?', placeHolder: 'Nothing is written before you review the proposed merges' });
    return pick ? pick.scope : false;
  }

  /** The merger the enrichment settings ask for: undefined = local rule, false = the person backed out. */
  private async createMerger(): Promise<ConsolidationMerger | undefined | false> {
    const provider = this.config.get('enrichment.provider');
    if (provider === 'languageModel') {
      const model = await pickChatModel(this.config.get('enrichment.languageModel'), (id) => this.config.update('enrichment.languageModel', id));
      if (model) return new LanguageModelMerger(model);
      const choice = await vscode.window.showWarningMessage('Memory Lane: no VS Code chat model is available to write merged memories. Consolidate with the local rule (keep the most complete, newest text) instead?', { modal: true }, 'Use the Local Rule');
      return choice ? undefined : false;
    }
    if (provider === 'openai-compatible') {
      const baseUrl = this.config.get('enrichment.endpoint').trim();
      const model = this.config.get('enrichment.model').trim();
      if (!baseUrl || !model) throw new ValidationError('memoryLane.enrichment.endpoint', 'an http(s) URL and memoryLane.enrichment.model must both be set for the openai-compatible merger');
      const apiKey = await this.keys.get('enrichment');
      return new OpenAiCompatibleMerger({ baseUrl, model, logger: this.log, ...(apiKey ? { apiKey } : {}) });
    }
    return undefined;
  }

  private budgetOf(merger: ConsolidationMerger | undefined): Pick<ConsolidationRecord, 'budget' | 'pricePer1k'> {
    if (!merger) return {};
    const tokens = this.config.get('upgrade.tokenBudget');
    const dailyTokens = this.config.get('upgrade.dailyTokenBudget');
    const pricePer1k = this.config.get('upgrade.pricePer1kTokens');
    return { budget: { ...(tokens ? { tokens } : {}), ...(dailyTokens ? { dailyTokens } : {}), ...(pricePer1k ? { pricePer1k } : {}) }, ...(pricePer1k ? { pricePer1k } : {}) };
  }
}

/** Tokens of a whole consolidation: proposals while planning, plus any spent while writing. */
export function spentTokens(r: ConsolidationRecord): number {
  const plan = (r.planTokens?.in ?? 0) + (r.planTokens?.out ?? 0);
  const write = (r.result?.tokens?.in ?? 0) + (r.result?.tokens?.out ?? 0);
  return plan + write || ((r.progress?.tokens?.in ?? 0) + (r.progress?.tokens?.out ?? 0));
}

function planMessage(p: ConsolidateProgress): string {
  const parts = [`${p.scanned} memories looked at`];
  if (p.clustersTotal) parts.push(`${p.clustersTotal} clusters so far`);
  if (p.calls) parts.push(`${((p.tokens?.in ?? 0) + (p.tokens?.out ?? 0)).toLocaleString('en-US')} tokens in ${p.calls} calls`);
  return parts.join(' · ');
}
