import { statSync } from 'node:fs';
import { homedir } from 'node:os';

import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { exportBackup, isBackupFile, restoreBackup } from '../../core/store/backup';
import { importFrom } from '../../core/upgrade';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { Commands, Views, focusViewCommand } from '../ids';
import { upgradeFailureUri } from '../memoryDocuments';
import { guarded } from '../notifications';
import type { ApiKeyKind, ApiKeys } from '../secrets';
import type { StoreConnection } from '../storeConnection';
import { pickChatModel } from '../upgrade/languageModelEnricher';
import type { StartOptions, UpgradeController } from '../upgrade/upgradeController';
import { formatDuration } from '../views/progressText';

/**
 * Store-wide commands: Upgrade Memories / Cancel Upgrade, Import…, Export…, Run Maintenance,
 * Set / Clear API Key, Choose Enrichment Model, Show Lock Monitor, Show Logs, Open Settings.
 * Every handler returns its outcome (tests and other extensions use it) and reports failures with
 * the actions that help.
 */
export class StoreCommands extends Disposable {
  constructor(
    private readonly connection: StoreConnection,
    private readonly upgrades: UpgradeController,
    private readonly config: Configuration,
    private readonly keys: ApiKeys,
    private readonly channel: vscode.LogOutputChannel,
    private readonly log: Logger,
  ) {
    super();
    const register = <A extends unknown[], R>(id: string, what: string, fn: (...args: A) => Promise<R>) =>
      this._register(vscode.commands.registerCommand(id, guarded(what, log, fn)));
    register(Commands.showLockMonitor, 'Show Lock Monitor', () => Promise.resolve(vscode.commands.executeCommand(focusViewCommand(Views.locks))));
    register(Commands.showLogs, 'Show Logs', async () => this.channel.show(true));
    register(Commands.openSettings, 'Open Settings', () => Promise.resolve(vscode.commands.executeCommand('workbench.action.openSettings', '@ext:memory-lane.memory-lane')));
    register(Commands.upgrade, 'Upgrade Memories', (options?: StartOptions) => this.upgrades.start(options));
    register(Commands.cancelUpgrade, 'Cancel Upgrade', async () => {
      const cancelled = this.upgrades.cancel();
      if (!cancelled) void vscode.window.showInformationMessage('Memory Lane: no upgrade is running in this window.');
      return cancelled;
    });
    register(Commands.showUpgradeFailure, 'Show Upgrade Failure', async (runId?: string, id?: string) => {
      const run = runId ?? this.upgrades.history[0]?.runId;
      if (!run) return;
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(upgradeFailureUri(run, id)), { preview: true });
    });
    register(Commands.importMemories, 'Import', (file?: string) => this.importMemories(file));
    register(Commands.exportMemories, 'Export', (file?: string) => this.exportMemories(file));
    register(Commands.runMaintenance, 'Run Maintenance', () => this.runMaintenance());
    register(Commands.setApiKey, 'Set API Key', (kind?: ApiKeyKind, value?: string) => this.setApiKey(kind, value));
    register(Commands.clearApiKey, 'Clear API Key', (kind?: ApiKeyKind) => this.clearApiKey(kind));
    register(Commands.setStoreCredentials, 'Set Store Credentials', (accessKeyId?: string, secretAccessKey?: string) => this.setStoreCredentials(accessKeyId, secretAccessKey));
    register(Commands.clearStoreCredentials, 'Clear Store Credentials', async () => { await this.keys.clearStoreCredentials(); this.log.info('[settings] store credentials cleared'); return true; });
    register(Commands.chooseEnrichmentModel, 'Choose Enrichment Model', () => this.chooseEnrichmentModel());
  }

  private async importMemories(given?: string) {
    let file = given;
    if (!file) {
      const picked = await vscode.window.showOpenDialog({
        title: 'Memory Lane: import memories',
        openLabel: 'Import',
        canSelectFiles: true,
        canSelectFolders: true,
        canSelectMany: false,
        filters: { 'Memory Lane backups and JSON Lines': ['jsonl', 'json', 'ndjson'], 'All files': ['*'] },
      });
      file = picked?.[0]?.fsPath;
    }
    if (!file) return undefined;
    const service = await this.connection.service();
    const store = service.memoryStore;
    const from = file;
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Memory Lane: importing', cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      if (statSync(from).isFile() && (await isBackupFile(from))) {
        const r = await restoreBackup(store, from, (done) => progress.report({ message: `${done} memories` }));
        void vscode.window.showInformationMessage(`Memory Lane: restored ${r.restored} memories from the backup (${r.existing} were already there${r.failed.length ? `, ${r.failed.length} failed — see the log` : ''}).`);
        for (const f of r.failed) this.log.warn(`[store] restore line ${f.line}: ${f.reason}`);
        return { format: 'backup', imported: r.restored, existing: r.existing, failed: r.failed.length };
      }
      const embedder = service.activeEmbedder;
      const r = await importFrom(store, from, {
        format: 'auto',
        signal: abort.signal,
        ...(embedder ? { embed: (texts: string[]) => embedder.embed(texts, { signal: abort.signal }) } : {}),
        onProgress: (p) => progress.report({ message: `${p.imported} imported, ${p.existing} already there` }),
        logger: this.log,
      });
      for (const m of r.malformed.slice(0, 50)) this.log.warn(`[store] import ${r.format} line ${m.line}: ${m.reason}`);
      const msg = `Memory Lane: imported ${r.imported} memories (${r.format}); ${r.existing} were already there, ${r.malformed.length} lines could not be read, ${r.failed.length} failed. They arrive legacy: run Upgrade Memories to enrich them.`;
      void vscode.window.showInformationMessage(msg, 'Upgrade Memories').then((c) => { if (c) void vscode.commands.executeCommand(Commands.upgrade); });
      return { format: r.format, imported: r.imported, existing: r.existing, failed: r.failed.length, malformed: r.malformed.length };
    });
  }

  private async exportMemories(given?: string) {
    let file = given;
    if (!file) {
      const stamp = new Date().toISOString().slice(0, 10);
      const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
      const picked = await vscode.window.showSaveDialog({ title: 'Memory Lane: export a backup', saveLabel: 'Export', defaultUri: vscode.Uri.joinPath(folder, `memory-lane-backup-${stamp}.jsonl`), filters: { 'JSON Lines': ['jsonl'] } });
      file = picked?.fsPath;
    }
    if (!file) return undefined;
    const service = await this.connection.service();
    const target = file;
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Memory Lane: exporting' }, () => exportBackup(service.memoryStore, target));
    void vscode.window.showInformationMessage(`Memory Lane: exported ${r.rows} memories to ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB).`);
    return r;
  }

  /** Compaction and index upkeep as one background commit under the lock (waits its turn like any write). */
  private async runMaintenance() {
    const service = await this.connection.service();
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Memory Lane: maintenance (waits for the store lock)' }, () => service.memoryStore.optimize('requested from VS Code'));
    if (r.skipped) {
      void vscode.window.showInformationMessage(`Memory Lane: maintenance not run: ${r.skipped}.`);
      return r;
    }
    const msg = `maintenance done in ${formatDuration(r.ms)}: ${r.fragmentsRemoved} fragments compacted into ${r.fragmentsAdded}, ${r.versionsPruned} old versions pruned (${(r.bytesRemoved / 1024 / 1024).toFixed(1)} MiB)${r.indexesCreated.length ? `, indexes created: ${r.indexesCreated.join(', ')}` : ''}`;
    this.log.info(`[store] ${msg}`);
    void vscode.window.showInformationMessage(`Memory Lane: ${msg}.`);
    return r;
  }

  private async pickKind(kind: ApiKeyKind | undefined, verb: string): Promise<ApiKeyKind | undefined> {
    if (kind) return kind;
    const choice = await vscode.window.showQuickPick([
      { label: 'Embedding endpoint', description: this.config.get('embedding.endpoint') || 'not configured', key: 'embedding' as const },
      { label: 'Enrichment (LLM) endpoint', description: this.config.get('enrichment.endpoint') || 'not configured', key: 'enrichment' as const },
    ], { title: `Memory Lane: ${verb}` });
    return choice?.key;
  }

  /** Stores a key in SecretStorage (never in settings); `value` skips the prompt (tests). */
  private async setApiKey(given?: ApiKeyKind, value?: string): Promise<boolean> {
    const kind = await this.pickKind(given, 'set an API key');
    if (!kind) return false;
    const key = value ?? await vscode.window.showInputBox({ title: `Memory Lane: API key of the ${kind} endpoint`, password: true, ignoreFocusOut: true, prompt: 'Kept in VS Code\'s secret storage, never in settings or logs.' });
    if (!key?.trim()) return false;
    await this.keys.set(kind, key.trim());
    this.log.info(`[settings] ${kind} API key set`);
    if (!given) void vscode.window.showInformationMessage(`Memory Lane: the ${kind} API key is stored in VS Code's secret storage.`);
    return true;
  }

  /** A team store's access key pair, into secret storage (never settings, never logs). */
  private async setStoreCredentials(givenId?: string, givenSecret?: string): Promise<boolean> {
    const accessKeyId = givenId ?? await vscode.window.showInputBox({ title: 'Memory Lane: access key id of the team store (AWS_ACCESS_KEY_ID)', ignoreFocusOut: true, prompt: 'Kept in VS Code\'s secret storage, never in settings or logs.' });
    if (!accessKeyId?.trim()) return false;
    const secretAccessKey = givenSecret ?? await vscode.window.showInputBox({ title: 'Memory Lane: secret access key of the team store (AWS_SECRET_ACCESS_KEY)', password: true, ignoreFocusOut: true, prompt: 'Kept in VS Code\'s secret storage, never in settings or logs.' });
    if (!secretAccessKey?.trim()) return false;
    await this.keys.setStoreCredentials({ accessKeyId: accessKeyId.trim(), secretAccessKey: secretAccessKey.trim() });
    this.log.info('[settings] store credentials set');
    if (givenId === undefined) void vscode.window.showInformationMessage('Memory Lane: the team store credentials are stored in VS Code\'s secret storage.');
    return true;
  }

  private async clearApiKey(given?: ApiKeyKind): Promise<boolean> {
    const kind = await this.pickKind(given, 'clear an API key');
    if (!kind) return false;
    await this.keys.clear(kind);
    this.log.info(`[settings] ${kind} API key cleared`);
    return true;
  }

  private async chooseEnrichmentModel(): Promise<string | undefined> {
    const model = await pickChatModel('', (id) => this.config.update('enrichment.languageModel', id));
    if (!model) {
      void vscode.window.showWarningMessage('Memory Lane: no VS Code chat model is available (is a chat extension installed and signed in?).');
      return undefined;
    }
    await this.config.update('enrichment.languageModel', model.id);
    await this.config.update('enrichment.provider', 'languageModel');
    void vscode.window.showInformationMessage(`Memory Lane: upgrades will enrich memories with ${model.name}. Run Upgrade Memories with force to redo locally enriched ones.`);
    return model.id;
  }
}

