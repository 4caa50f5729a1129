import * as vscode from 'vscode';
import { errorCode, errorMessage, ValidationError } from '../../core/errors';
import { componentLogger, type Logger } from '../../core/log';
import { createEnricher, createUpgradeRun, type Enricher, type UpgradeFailure, type UpgradeProgress, type UpgradeResult, type UpgradeRun } from '../../core/upgrade';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { Commands, ContextKeys } from '../ids';
import { reportError, reportJobFailure, showAlreadyRunning, type BackgroundJob } from '../notifications';
import type { ApiKeys } from '../secrets';
import type { StoreConnection } from '../storeConnection';
import { LanguageModelEnricher, pickChatModel } from './languageModelEnricher';
import { percentDone, progressMessage } from '../views/progressText';

/** One upgrade started in this window, as the Locks & Upgrades view shows it. */
export interface UpgradeRecord {
  runId: string;
  startedAt: number;
  finishedAt?: number;
  /** e.g. `local`, `vscode-lm/copilot/gpt-4o`, `openai-compatible/llama3`. */
  enricher: string;
  progress?: UpgradeProgress;
  result?: UpgradeResult;
  /** Set when the run could not start or failed as a whole (BusyError, store unavailable…). */
  error?: { code: string; message: string };
}

export interface StartOptions {
  /** Also re-enrich memories the local heuristic enriched (e.g. after choosing an LLM). */
  force?: boolean;
  /** No summary notification (tests). */
  quiet?: boolean;
}

const HISTORY = 5;
const UPGRADE_JOB: BackgroundJob = { title: 'Upgrade Memories', doing: 'upgrading' };

/**
 * Runs "Upgrade Memories" in the background: builds the configured enricher (local, the user's
 * VS Code chat model, or an OpenAI-compatible endpoint with its key from SecretStorage), starts the
 * core's two-phase UpgradeRun at background priority (agents' writes keep precedence), shows it in a
 * cancellable progress notification, keeps the last runs for the view, and ends with a summary
 * whose failures can be opened. One upgrade per store at a time, across processes (E_BUSY).
 */
export class UpgradeController extends Disposable {
  private run: UpgradeRun | undefined;
  private running: UpgradeRecord | undefined;
  private done: Promise<UpgradeResult | undefined> | undefined;
  private readonly records: UpgradeRecord[] = [];
  private readonly log: Logger;
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  /** Progress, start and end of a run (fires up to 4 times a second while running; views throttle further). */
  readonly onDidChange = this._onDidChange.event;

  constructor(
    private readonly connection: StoreConnection,
    private readonly config: Configuration,
    private readonly keys: ApiKeys,
    /** The core's logger (the upgrader prefixes its own lines with [upgrade]). */
    private readonly coreLog: Logger,
  ) {
    super();
    this.log = componentLogger(coreLog, 'upgrade');
    this._register({ dispose: () => this.run?.cancel() });
    // A run must not outlive the store it writes to: before the connection closes the store (settings
    // changed, window closing), stop after the batch in flight and wait for the run to end.
    this._register(connection.onWillClose(async () => {
      if (this.cancel()) await this.whenDone();
    }));
  }

  /** The run in progress in this window, if any. */
  get current(): UpgradeRecord | undefined {
    return this.running;
  }

  /** Finished runs of this window, newest first. */
  get history(): readonly UpgradeRecord[] {
    return this.records;
  }

  /** Resolves when the running upgrade (if any) ends. */
  whenDone(): Promise<UpgradeResult | undefined> {
    return this.done ?? Promise.resolve(undefined);
  }

  /** A failed entry of a finished run (a running one reports its failures when it ends). */
  failure(runId: string, id: string): { record: UpgradeRecord; failure: UpgradeFailure } | undefined {
    const record = this.record(runId);
    const failure = record?.result?.failed.find((f) => f.id === id);
    return record && failure ? { record, failure } : undefined;
  }

  record(runId: string): UpgradeRecord | undefined {
    return this.running?.runId === runId ? this.running : this.records.find((r) => r.runId === runId);
  }

  /**
   * Starts an upgrade (or joins the one running) and resolves with its result when it ends;
   * undefined when it could not start (the reason was shown and logged).
   */
  start(options: StartOptions = {}): Promise<UpgradeResult | undefined> {
    if (this.done) {
      showAlreadyRunning('an upgrade is already running in this window.', 'Cancel Upgrade', () => this.cancel());
      return this.done;
    }
    this.done = this.execute(options).finally(() => { this.done = undefined; });
    return this.done;
  }

  /** Stops the running upgrade after the batch in flight (whole batches only; run again to resume). */
  cancel(): boolean {
    if (!this.run) return false;
    this.log.info('cancel requested');
    this.run.cancel();
    return true;
  }

  private async execute(options: StartOptions): Promise<UpgradeResult | undefined> {
    let enricher: Enricher | undefined;
    let service;
    try {
      service = await this.connection.service();
      enricher = await this.createEnricher();
    } catch (err) {
      reportError(UPGRADE_JOB.title, err, this.log);
      return undefined;
    }
    if (!enricher) return undefined;
    const enricherName = enricher.model ? `${enricher.provider}/${enricher.model}` : enricher.provider;
    const run = createUpgradeRun(service.memoryStore, {
      enricher,
      fallback: 'local',
      batchSize: this.config.get('upgrade.batchSize'),
      concurrency: enricher.provider === 'local' ? 1 : this.config.get('upgrade.concurrency'),
      logger: this.coreLog,
      ...(options.force ? { force: true } : {}),
      budget: { tokens: this.config.get('upgrade.tokenBudget'), dailyTokens: this.config.get('upgrade.dailyTokenBudget'), pricePer1k: this.config.get('upgrade.pricePer1kTokens') },
    });
    const record: UpgradeRecord = { runId: run.id, startedAt: Date.now(), enricher: enricherName };
    this.run = run;
    this.running = record;
    void vscode.commands.executeCommand('setContext', ContextKeys.upgradeRunning, true);
    this._onDidChange.fire();
    this.log.info(`starting with ${enricherName} (batch ${this.config.get('upgrade.batchSize')})`);

    let result: UpgradeResult | undefined;
    try {
      result = await vscode.window.withProgress({
        location: vscode.ProgressLocation.Notification,
        title: 'Memory Lane: upgrading memories',
        cancellable: true,
      }, async (progress, token) => {
        token.onCancellationRequested(() => run.cancel());
        let reported = 0;
        run.onProgress((p) => {
          record.progress = p;
          const pct = percentDone(p);
          progress.report({ increment: Math.max(0, pct - reported), message: progressMessage(p) });
          reported = Math.max(reported, pct);
          this._onDidChange.fire();
        });
        return run.run();
      });
      record.result = result;
    } catch (err) {
      record.error = { code: errorCode(err), message: errorMessage(err) };
      reportJobFailure(UPGRADE_JOB, err, this.log);
    } finally {
      record.finishedAt = Date.now();
      this.run = undefined;
      this.running = undefined;
      this.records.unshift(record);
      this.records.splice(HISTORY);
      void vscode.commands.executeCommand('setContext', ContextKeys.upgradeRunning, false);
      this._onDidChange.fire();
    }
    if (result && !options.quiet) this.summarize(record, result);
    return result;
  }

  private summarize(record: UpgradeRecord, r: UpgradeResult): void {
    const secs = (r.ms / 1000).toFixed(1);
    const parts = [`upgraded ${r.upgraded} of ${r.candidates} legacy memories in ${secs} s`];
    if (r.skipped) parts.push(`${r.skipped} skipped`);
    if (r.fallbacks) parts.push(`${r.fallbacks} enriched locally after the model failed`);
    if (r.concurrentWrites) parts.push(`${r.concurrentWrites} merged with concurrent edits`);
    if (r.failed.length) parts.push(`${r.failed.length} failed`);
    if (r.calls) parts.push(`${r.tokens.in + r.tokens.out} tokens in ${r.calls} calls${r.cost !== undefined ? ` (cost ${r.cost})` : ''}`);
    const status = r.cancelled ? ' (cancelled — run it again to resume)' : r.aborted ? ` (stopped: ${r.aborted})` : r.stoppedBy ? ` (stopped: ${r.stoppedBy.message})` : '';
    const message = `Memory Lane: ${parts.join(', ')}${status}.`;
    this.log.info(message);
    const actions = r.failed.length ? ['Show Failures', 'Show Lock Monitor'] : ['Show Lock Monitor'];
    const show = r.failed.length || r.aborted ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(message, ...actions).then((choice) => {
      if (choice === 'Show Failures') void vscode.commands.executeCommand(Commands.showUpgradeFailure, record.runId);
      else if (choice === 'Show Lock Monitor') void vscode.commands.executeCommand(Commands.showLockMonitor);
    });
  }

  /** The enricher the settings ask for; undefined when the person backed out of choosing a model. */
  private async createEnricher(): Promise<Enricher | undefined> {
    const provider = this.config.get('enrichment.provider');
    const concurrency = this.config.get('upgrade.concurrency');
    if (provider === 'languageModel') {
      const model = await pickChatModel(this.config.get('enrichment.languageModel'), (id) => this.config.update('enrichment.languageModel', id));
      if (model) return new LanguageModelEnricher(model, { concurrency });
      const choice = await vscode.window.showWarningMessage('Memory Lane: no VS Code chat model is available for enrichment (is a chat extension installed and signed in?). Upgrade with local enrichment instead?', { modal: true }, 'Use Local Enrichment');
      return choice ? createEnricher({ provider: 'local' }) : undefined;
    }
    if (provider === 'openai-compatible') {
      const baseUrl = this.config.get('enrichment.endpoint').trim();
      const model = this.config.get('enrichment.model').trim();
      if (!baseUrl || !model) throw new ValidationError('memoryLane.enrichment.endpoint', 'an http(s) URL and memoryLane.enrichment.model must both be set for the openai-compatible enricher');
      const apiKey = await this.keys.get('enrichment');
      return createEnricher({ provider: 'openai-compatible', baseUrl, model, concurrency, logger: this.log, ...(apiKey ? { apiKey } : {}) });
    }
    return createEnricher({ provider: 'local' });
  }
}
