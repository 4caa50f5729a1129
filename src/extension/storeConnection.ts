import * as vscode from 'vscode';
import type { LockEvent } from '../core/concurrency/lockEvents';
import { LockJournal } from '../core/concurrency/lockJournal';
import type { QueueDepth } from '../core/concurrency/writeQueue';
import type { EmbedderConfig } from '../core/embedding';
import { errorCode, errorMessage, StoreUnavailableError } from '../core/errors';
import { Emitter } from '../core/events';
import type { Logger } from '../core/log';
import { MemoryService, type MemoryChange } from '../core/memoryService';
import { readStoreMeta } from '../core/store/storeMeta';
import type { RemoteStoreStatus } from '../core/store/health';
import { looksLikeUri, parseStoreLocation } from '../core/store/location';
import { resolveRemoteConnection, type RemoteConnectionSettings } from '../core/store/remoteStore';
import type { Configuration } from './configuration';
import { Disposable } from './disposable';
import { ContextKeys } from './ids';
import { reportError } from './notifications';
import { defaultScopes, workspaceScope } from './scopes';
import type { ApiKeys } from './secrets';
import { locateStore, type StoreLocation } from './storeLocation';
import { StoreWatcher } from './storeWatcher';
import { lockStoreOptions } from '../core/store/memoryStore';

/** A change to the memories: one this window made, or `external` (another process committed). */
export type MemoriesChange = MemoryChange | { kind: 'external' };

/**
 * This window's connection to the shared store. Opening LanceDB is deferred to the first use (a
 * window that never touches memory pays nothing), then kept until the store settings change.
 * Relays the store's events to the views through one LockJournal that survives reopening, and owns
 * the StoreWatcher that notices other processes.
 */
export class StoreConnection extends Disposable {
  private opening: Promise<MemoryService> | undefined;
  private _service: MemoryService | undefined;
  private serviceSubscriptions: Array<{ dispose(): void }> = [];
  private _dir: string;
  /** Why `memoryLane.storePath` cannot be used; while set, nothing is opened. */
  private _problem: string | undefined;
  /** Store problems already shown to the person: one notification per problem, not one per tool call. */
  private readonly told = new Set<string>();
  private readonly lockEvents = this._register(new Emitter<LockEvent>());
  /** This window's recent lock waits and live state, fed by the store's lock events. */
  readonly journal: LockJournal;
  readonly watcher: StoreWatcher;

  private readonly _onDidOpen = this._register(new vscode.EventEmitter<MemoryService>());
  readonly onDidOpen = this._onDidOpen.event;
  private readonly _onDidClose = this._register(new vscode.EventEmitter<void>());
  readonly onDidClose = this._onDidClose.event;
  private readonly _onDidChangeMemories = this._register(new vscode.EventEmitter<MemoriesChange>());
  readonly onDidChangeMemories = this._onDidChangeMemories.event;
  private readonly _onDidChangeQueue = this._register(new vscode.EventEmitter<QueueDepth>());
  readonly onDidChangeQueue = this._onDidChangeQueue.event;
  private readonly _onDidChangeLocation = this._register(new vscode.EventEmitter<string>());
  /** The store folder changed (setting); the views start over. */
  readonly onDidChangeLocation = this._onDidChangeLocation.event;

  constructor(
    private readonly config: Configuration,
    private readonly keys: ApiKeys,
    private readonly log: Logger,
  ) {
    super();
    ({ dir: this._dir, problem: this._problem } = this.locate());
    if (this._problem) this.unavailable(this._problem);
    this.journal = this._register(new LockJournal(this.lockEvents.event));
    this.watcher = this._register(new StoreWatcher(stateDirOf(this._dir), log));
    this._register(this.watcher.onDidCommit(() => this._onDidChangeMemories.fire({ kind: 'external' })));
    this._register(config.onDidChange((e) => {
      if (config.changed(e, 'storePath', 'embedding', 'lock', 'remote')) void this.reconnect(config.changed(e, 'storePath'));
      // The service reads it on every recall: no reopening needed.
      if (config.changed(e, 'review') && this._service) this._service.requireApproval = config.get('review.requireApproval');
    }));
    this._register(keys.onDidChange((kind) => { if (kind === 'embedding' || (kind === 'store' && this.isRemote)) void this.reconnect(false); }));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => void this.reconnect(false)));
    this._register({ dispose: () => void this.close() });
  }

  /** The store folder this window uses. */
  get dir(): string {
    return this._dir;
  }

  /** True when the store is a remote URI (`s3+ddb://…`, docs/team-store.md). */
  get isRemote(): boolean {
    return looksLikeUri(this._dir);
  }

  /**
   * What the views show of a remote store: endpoint, commit coordination, conflicts retried against
   * other machines (from the open store; before it opens, from the settings alone). Undefined for a folder.
   */
  get remoteStatus(): RemoteStoreStatus | undefined {
    if (!this.isRemote) return undefined;
    const open = this._service?.memoryStore.remoteStatus;
    if (open) return open;
    try {
      const location = parseStoreLocation(this._dir, 'memoryLane.storePath');
      if (location.kind !== 'remote') return undefined;
      // Credentials are not needed to describe the store; a placeholder keeps the check from failing here.
      const conn = resolveRemoteConnection(location, { ...this.remoteSettings(), credentials: { accessKeyId: '-', secretAccessKey: '-' } });
      return { endpoint: conn.endpointLabel, coordination: location.coordination, ...(location.ddbTableName ? { table: location.ddbTableName } : {}), stateDir: location.stateDir, conflictsRetried: 0 };
    } catch {
      return undefined;
    }
  }

  /** The team store's connection settings (`memoryLane.remote.*`); credentials come from secret storage only. */
  private remoteSettings(): RemoteConnectionSettings {
    const text = (key: 'remote.endpoint' | 'remote.region' | 'remote.dynamodbEndpoint') => this.config.get(key).trim() || undefined;
    const endpoint = text('remote.endpoint');
    const region = text('remote.region');
    const dynamodbEndpoint = text('remote.dynamodbEndpoint');
    return { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), ...(dynamodbEndpoint ? { dynamodbEndpoint } : {}), ...(this.config.get('remote.allowHttp') ? { allowHttp: true } : {}) };
  }

  /** Why `memoryLane.storePath` cannot be used (a relative path, not a string); then nothing opens a store. */
  get locationProblem(): string | undefined {
    return this._problem;
  }

  /** `workspace:<id>` of this window, if it has a folder. */
  get workspaceScope(): string | undefined {
    return workspaceScope(vscode.workspace.workspaceFolders?.map((f) => f.uri) ?? []);
  }

  /** Recall scopes: this workspace, then global. */
  get scopes(): string[] {
    return defaultScopes(this.workspaceScope);
  }

  /** The open service, if something already needed it (never opens). */
  get current(): MemoryService | undefined {
    return this._service;
  }

  /** Opens the store on first use (creating it when missing) and returns the memory service. */
  service(): Promise<MemoryService> {
    if (this._service) return Promise.resolve(this._service);
    if (this._problem) return Promise.reject(this.unavailable(this._problem));
    this.opening ??= this.open().finally(() => { this.opening = undefined; });
    return this.opening;
  }

  /** The service if a store exists at the configured path; never creates one (the views use this). */
  async existingService(): Promise<MemoryService | undefined> {
    if (this._service) return this._service;
    if (this._problem) return undefined;
    // A remote store has no meta file to peek at: the views open it (which creates nothing on a refused store).
    if (!this.opening && !this.isRemote && !(await readStoreMeta(this._dir).catch(() => undefined))) return undefined;
    return this.service();
  }

  private async open(): Promise<MemoryService> {
    const dir = this._dir;
    const started = Date.now();
    const service = await MemoryService.open({
      dir,
      embedding: await this.embedderConfig(),
      logger: this.log,
      defaultScopes: this.scopes,
      source: 'vscode',
      requireApproval: this.config.get('review.requireApproval'),
      storeOptions: { ...lockStoreOptions(this.config.lockSettings()), ...(this.isRemote ? { remote: await this.remoteConnectionSettings() } : {}) },
    }).catch((err: unknown) => {
      // "is a file, not a folder", "Cannot create the store folder …": say which setting chose that folder.
      if (errorCode(err) === 'E_STORE_UNAVAILABLE' && this.config.get('storePath').trim()) throw this.unavailable('', err);
      throw err;
    });
    if (dir !== this._dir || this.disposedFlag) {
      // The setting changed while LanceDB was opening: this one is already outdated.
      await service.close();
      return this.service();
    }
    const store = service.memoryStore;
    this.serviceSubscriptions = [
      store.onLockEvent((e) => this.lockEvents.fire(e)),
      store.onQueueDepth((d) => this._onDidChangeQueue.fire(d)),
      service.onDidChange((c) => this._onDidChangeMemories.fire(c)),
    ];
    this._service = service;
    this.watcher.refresh(); // the folder may have just been created
    void vscode.commands.executeCommand('setContext', ContextKeys.storeOpen, true);
    this.log.info(`[store] opened ${dir} in ${Date.now() - started} ms (embedder ${service.embedderStatus.active ?? 'none'}, scopes ${this.scopes.join(', ')})`);
    if (service.embedderStatus.needsReembed) {
      this.log.warn(`[store] the store's vectors come from ${service.embedderStatus.store.embedder}; the configured embedder is ${service.embedderStatus.configured.id}`);
    }
    this._onDidOpen.fire(service);
    return service;
  }

  private disposedFlag = false;

  private readonly closeParticipants = new Set<() => Promise<unknown>>();

  /**
   * Runs `participant` before the store is closed (settings changed, window closing) and waits for
   * it: the upgrade stops after its batch in flight instead of finding the store closed under it.
   */
  onWillClose(participant: () => Promise<unknown>): vscode.Disposable {
    this.closeParticipants.add(participant);
    return { dispose: () => this.closeParticipants.delete(participant) };
  }

  /** Closes the service (flushing recall bookkeeping); the next use opens it again. */
  async close(): Promise<void> {
    if (this._service) await Promise.allSettled([...this.closeParticipants].map((p) => p()));
    const service = this._service ?? (await this.opening?.catch(() => undefined));
    this._service = undefined;
    for (const s of this.serviceSubscriptions.splice(0)) s.dispose();
    if (!service) return;
    void vscode.commands.executeCommand('setContext', ContextKeys.storeOpen, false);
    try {
      await service.close();
      this.log.info(`[store] closed ${service.memoryStore.dir}`);
    } catch (err) {
      this.log.warn(`[store] closing failed: ${errorMessage(err)}`);
    }
    this._onDidClose.fire();
  }

  private async reconnect(locationChanged: boolean): Promise<void> {
    const { dir, problem } = this.locate();
    const moved = dir !== this._dir || problem !== this._problem;
    if (problem) this.unavailable(problem);
    if (!moved && !this._service && !this.opening) return;
    this.log.info(`[store] settings changed; ${moved ? `switching to ${dir}` : 'reopening the store on next use'}`);
    await this.close();
    if (moved || locationChanged) {
      this._dir = dir;
      this._problem = problem;
      this.watcher.retarget(stateDirOf(dir));
      this._onDidChangeLocation.fire(dir);
    }
  }

  /** The folder the settings ask for, and why it cannot be used (if so). */
  private locate(): StoreLocation {
    const setting = this.config.get('storePath');
    const invalid = this.config.problems.find((p) => p.key === 'storePath');
    // A storePath that is not even a string falls back to '' (the shared store) in the Configuration; here it must not.
    if (invalid) return { dir: locateStore('').dir, problem: invalid.reason };
    return locateStore(setting);
  }

  /**
   * The error every use of the store gets while `memoryLane.storePath` is unusable (`problem`
   * completes "memoryLane.storePath …") or the folder cannot be opened (`cause`); logged and shown
   * once per problem with Open Settings, then only returned to callers (tools, views, commands).
   */
  private unavailable(problem: string, cause?: unknown): StoreUnavailableError {
    const err = cause
      ? new StoreUnavailableError(`${errorMessage(cause)} (the folder is set by memoryLane.storePath)`, { cause })
      : new StoreUnavailableError(`memoryLane.storePath ${problem}; no store is opened until it is fixed`);
    if (!this.told.has(err.message)) {
      this.told.add(err.message);
      reportError('Opening the memory store', err, this.log);
    }
    return err;
  }

  /** `memoryLane.remote.*` plus the credentials from SecretStorage (else the environment's AWS_* variables). */
  async remoteConnectionSettings(): Promise<RemoteConnectionSettings> {
    const credentials = await this.keys.storeCredentials();
    return { ...this.remoteSettings(), ...(credentials ? { credentials } : {}) };
  }

  /** Embedder settings plus the key from SecretStorage (never from settings). */
  async embedderConfig(): Promise<EmbedderConfig> {
    if (this.config.get('embedding.provider') !== 'openai-compatible') return { kind: 'local' };
    const baseUrl = this.config.get('embedding.endpoint').trim();
    const model = this.config.get('embedding.model').trim();
    if (!baseUrl || !model) {
      this.log.warn('[store] embedding.provider is openai-compatible but the endpoint or model is not set (or not valid); using the local embedder');
      return { kind: 'local' };
    }
    const dimensions = this.config.get('embedding.dimensions');
    const apiKey = await this.keys.get('embedding');
    return { kind: 'openai', baseUrl, model, ...(dimensions ? { dimensions } : {}), ...(apiKey ? { apiKey } : {}) };
  }

  override dispose(): void {
    this.disposedFlag = true;
    super.dispose();
  }
}

/** Where this machine's lock files of the store are: the folder itself, or a remote store's state folder. */
function stateDirOf(dir: string): string {
  try {
    return parseStoreLocation(dir, 'memoryLane.storePath').stateDir;
  } catch {
    return dir;
  }
}
