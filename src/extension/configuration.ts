import * as vscode from 'vscode';
import { BUDGET_DEFAULTS, CONSOLIDATE_DEFAULTS, LOCK_DEFAULTS, UPGRADE_DEFAULTS, type LockSettings } from '../core/defaults';
import type { Logger } from '../core/log';
import { Disposable } from './disposable';
import { Commands } from './ids';
import { checkSetting, describeValue, type ValueSchema } from './manifestSchema';

export const SECTION = 'memoryLane';

export type EnrichmentProvider = 'local' | 'languageModel' | 'openai-compatible';
export type EmbeddingProvider = 'local' | 'openai-compatible';

/**
 * Every setting under `memoryLane.`, with its type. Keys and defaults mirror package.json's
 * `contributes.configuration` (the defaults here only apply if a key is missing from the manifest).
 */
export interface Settings {
  storePath: string;
  /** A remote store's S3-compatible endpoint (docs/team-store.md); empty: AWS_ENDPOINT_URL, else AWS. */
  'remote.endpoint': string;
  'remote.region': string;
  'remote.dynamodbEndpoint': string;
  'remote.allowHttp': boolean;
  'lock.writeTimeoutMs': number;
  'lock.backgroundTimeoutMs': number;
  'lock.staleMs': number;
  'upgrade.batchSize': number;
  'upgrade.concurrency': number;
  /** Tokens one upgrade may spend; 0 = no limit. */
  'upgrade.tokenBudget': number;
  /** Tokens the background runs of every process may spend per day on a store; 0 = no limit. */
  'upgrade.dailyTokenBudget': number;
  /** Price of 1000 tokens, to show the cost; 0 = not shown. */
  'upgrade.pricePer1kTokens': number;
  /** Cosine similarity two memories need to be proposed as one (Consolidate Memories…). */
  'consolidate.threshold': number;
  'enrichment.provider': EnrichmentProvider;
  'enrichment.endpoint': string;
  'enrichment.model': string;
  'enrichment.languageModel': string;
  'embedding.provider': EmbeddingProvider;
  'embedding.endpoint': string;
  'embedding.model': string;
  'embedding.dimensions': number | null;
  'statusBar.waitWarningMs': number;
  /** Read by VS Code itself (the `when` of contributes.chatInstructions); listed so a bad value is reported. */
  'agents.instructions': boolean;
  'review.requireApproval': boolean;
}

const DEFAULTS: Settings = {
  storePath: '',
  'remote.endpoint': '',
  'remote.region': '',
  'remote.dynamodbEndpoint': '',
  'remote.allowHttp': false,
  'lock.writeTimeoutMs': LOCK_DEFAULTS.writeTimeoutMs,
  'lock.backgroundTimeoutMs': LOCK_DEFAULTS.backgroundTimeoutMs,
  'lock.staleMs': LOCK_DEFAULTS.staleMs,
  'upgrade.batchSize': UPGRADE_DEFAULTS.batchSize,
  'upgrade.concurrency': UPGRADE_DEFAULTS.concurrency,
  'upgrade.tokenBudget': BUDGET_DEFAULTS.tokenBudget,
  'upgrade.dailyTokenBudget': BUDGET_DEFAULTS.dailyTokenBudget,
  'upgrade.pricePer1kTokens': BUDGET_DEFAULTS.pricePer1kTokens,
  'consolidate.threshold': CONSOLIDATE_DEFAULTS.threshold,
  'enrichment.provider': 'local',
  'enrichment.endpoint': '',
  'enrichment.model': '',
  'enrichment.languageModel': '',
  'embedding.provider': 'local',
  'embedding.endpoint': '',
  'embedding.model': '',
  'embedding.dimensions': null,
  'statusBar.waitWarningMs': 1000,
  'agents.instructions': true,
  'review.requireApproval': false,
};

export type SettingKey = keyof Settings;

/** A setting whose value this window does not use as written, and what it uses instead. */
export interface SettingProblem {
  key: SettingKey;
  /** What is wrong with the value: `must be an integer from 100 to 600000, got -5`. */
  reason: string;
  /** The whole story: `memoryLane.lock.writeTimeoutMs must be an integer from 100 to 600000, got -5; using 5000 (the default)`. */
  message: string;
}

/**
 * One typed accessor for the settings (GitLens' `configuration`): `get('lock.staleMs')` is a number,
 * and `changed(e, 'storePath', 'embedding')` tells a listener whether a change concerns it, so each
 * service reacts only to its own section.
 *
 * Every value is checked against its schema in package.json (`properties`): VS Code shows the
 * schema but returns whatever settings.json holds, and a deadline of -5 or "soon" would otherwise
 * reach the lock. A value that breaks it is replaced by the default, logged and shown once per value
 * (with Open Settings), and listed in `problems` until it is fixed.
 */
export class Configuration extends Disposable {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.ConfigurationChangeEvent>());
  /** Fires for changes under `memoryLane.` only. */
  readonly onDidChange = this._onDidChange.event;
  private readonly current = new Map<SettingKey, SettingProblem>();
  /** `key=value` pairs already told to the person: a bad value is shown once, not on every read. */
  private readonly told = new Set<string>();

  constructor(private readonly properties: Record<string, ValueSchema> = {}, private readonly log?: Logger) {
    super();
    this.checkAll();
    this._register(vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(SECTION)) return;
      this.checkAll();
      this._onDidChange.fire(e);
    }));
  }

  get<K extends SettingKey>(key: K): Settings[K] {
    const raw = vscode.workspace.getConfiguration(SECTION).get<unknown>(key);
    const schema = this.properties[`${SECTION}.${key}`];
    if (!schema) return (raw ?? DEFAULTS[key]) as Settings[K];
    const fallback = (schema.default !== undefined ? schema.default : DEFAULTS[key]) as Settings[K];
    const checked = checkSetting(raw, schema, fallback);
    this.note(key, raw, checked.problem, checked.value);
    return checked.value;
  }

  /** Settings whose values are not used as written, now. */
  get problems(): SettingProblem[] {
    return [...this.current.values()];
  }

  /** True when `e` touches any of the given keys or sections (`'embedding'` covers `embedding.*`). */
  /** The lock settings, as every process this window starts must share them. */
  lockSettings(): LockSettings {
    return { writeTimeoutMs: this.get('lock.writeTimeoutMs'), backgroundTimeoutMs: this.get('lock.backgroundTimeoutMs'), staleMs: this.get('lock.staleMs') };
  }

  changed(e: vscode.ConfigurationChangeEvent, ...keys: Array<SettingKey | 'lock' | 'upgrade' | 'consolidate' | 'enrichment' | 'embedding' | 'statusBar' | 'review' | 'remote'>): boolean {
    return keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
  }

  /** Writes a user (global) setting; workspace values of restricted settings are ignored in untrusted workspaces anyway. */
  async update<K extends SettingKey>(key: K, value: Settings[K] | undefined): Promise<void> {
    await vscode.workspace.getConfiguration(SECTION).update(key, value, vscode.ConfigurationTarget.Global);
  }

  /** Reads every setting once, so a bad value is reported when it is written, not when first used. */
  private checkAll(): void {
    for (const key of Object.keys(DEFAULTS) as SettingKey[]) this.get(key);
  }

  private note(key: SettingKey, raw: unknown, reason: string | undefined, using: unknown): void {
    if (!reason) {
      this.current.delete(key);
      return;
    }
    const message = `${SECTION}.${key} ${reason}; using ${describeValue(using)} (the default)`;
    this.current.set(key, { key, reason, message });
    const told = `${key}=${describeValue(raw, 500)}`;
    if (this.told.has(told)) return;
    this.told.add(told);
    this.log?.warn(message);
    void vscode.window.showWarningMessage(`Memory Lane: the setting ${message}.`, 'Open Settings').then((choice) => {
      if (choice) void vscode.commands.executeCommand(Commands.openSettings);
    });
  }
}
