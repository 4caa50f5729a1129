import * as vscode from 'vscode';
import { Disposable } from './disposable';

export const SECTION = 'memoryLane';

export type EnrichmentProvider = 'local' | 'languageModel' | 'openai-compatible';
export type EmbeddingProvider = 'local' | 'openai-compatible';

/**
 * Every setting under `memoryLane.`, with its type. Keys and defaults mirror package.json's
 * `contributes.configuration` (the defaults here only apply if a key is missing from the manifest).
 */
export interface Settings {
  storePath: string;
  'lock.writeTimeoutMs': number;
  'lock.backgroundTimeoutMs': number;
  'lock.staleMs': number;
  'upgrade.batchSize': number;
  'upgrade.concurrency': number;
  'enrichment.provider': EnrichmentProvider;
  'enrichment.endpoint': string;
  'enrichment.model': string;
  'enrichment.languageModel': string;
  'embedding.provider': EmbeddingProvider;
  'embedding.endpoint': string;
  'embedding.model': string;
  'embedding.dimensions': number | null;
  'statusBar.waitWarningMs': number;
}

const DEFAULTS: Settings = {
  storePath: '',
  'lock.writeTimeoutMs': 5000,
  'lock.backgroundTimeoutMs': 60000,
  'lock.staleMs': 10000,
  'upgrade.batchSize': 200,
  'upgrade.concurrency': 4,
  'enrichment.provider': 'local',
  'enrichment.endpoint': '',
  'enrichment.model': '',
  'enrichment.languageModel': '',
  'embedding.provider': 'local',
  'embedding.endpoint': '',
  'embedding.model': '',
  'embedding.dimensions': null,
  'statusBar.waitWarningMs': 1000,
};

export type SettingKey = keyof Settings;

/**
 * One typed accessor for the settings (GitLens' `configuration`): `get('lock.staleMs')` is a number,
 * and `changed(e, 'storePath', 'embedding')` tells a listener whether a change concerns it, so each
 * service reacts only to its own section.
 */
export class Configuration extends Disposable {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.ConfigurationChangeEvent>());
  /** Fires for changes under `memoryLane.` only. */
  readonly onDidChange = this._onDidChange.event;

  constructor() {
    super();
    this._register(vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(SECTION)) this._onDidChange.fire(e);
    }));
  }

  get<K extends SettingKey>(key: K): Settings[K] {
    return vscode.workspace.getConfiguration(SECTION).get<Settings[K]>(key, DEFAULTS[key]);
  }

  /** True when `e` touches any of the given keys or sections (`'embedding'` covers `embedding.*`). */
  changed(e: vscode.ConfigurationChangeEvent, ...keys: Array<SettingKey | 'lock' | 'upgrade' | 'enrichment' | 'embedding' | 'statusBar'>): boolean {
    return keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
  }

  /** Writes a user (global) setting; workspace values of restricted settings are ignored in untrusted workspaces anyway. */
  async update<K extends SettingKey>(key: K, value: Settings[K] | undefined): Promise<void> {
    await vscode.workspace.getConfiguration(SECTION).update(key, value, vscode.ConfigurationTarget.Global);
  }
}
