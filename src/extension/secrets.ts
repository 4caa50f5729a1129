import * as vscode from 'vscode';
import type { RemoteCredentials } from '../core/store/remoteStore';
import { Disposable } from './disposable';

/** Which endpoint a key belongs to. */
export type ApiKeyKind = 'embedding' | 'enrichment';

const SECRET_KEYS: Record<ApiKeyKind, string> = {
  embedding: 'memoryLane.apiKey.embedding',
  enrichment: 'memoryLane.apiKey.enrichment',
};

/** A team store's access key (docs/team-store.md): one pair for every remote store of this person. */
const STORE_CREDENTIALS_KEY = 'memoryLane.remote.credentials';

/**
 * API keys of the embedding and enrichment endpoints, and a team store's credentials, kept in VS Code's SecretStorage (the OS
 * keychain on desktop) — never in settings, logs, error messages or the MCP server's arguments.
 */
export class ApiKeys extends Disposable {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<ApiKeyKind | 'store'>());
  /** Fires when a key (or the store credentials: `store`) was set or cleared, in this or another window. */
  readonly onDidChange = this._onDidChange.event;

  constructor(private readonly secrets: vscode.SecretStorage) {
    super();
    this._register(secrets.onDidChange((e) => {
      const kind = (Object.keys(SECRET_KEYS) as ApiKeyKind[]).find((k) => SECRET_KEYS[k] === e.key);
      if (kind) this._onDidChange.fire(kind);
      if (e.key === STORE_CREDENTIALS_KEY) this._onDidChange.fire('store');
    }));
  }

  async get(kind: ApiKeyKind): Promise<string | undefined> {
    return (await this.secrets.get(SECRET_KEYS[kind])) || undefined;
  }

  async set(kind: ApiKeyKind, value: string): Promise<void> {
    await this.secrets.store(SECRET_KEYS[kind], value);
  }

  async clear(kind: ApiKeyKind): Promise<void> {
    await this.secrets.delete(SECRET_KEYS[kind]);
  }

  async has(kind: ApiKeyKind): Promise<boolean> {
    return (await this.get(kind)) !== undefined;
  }

  async storeCredentials(): Promise<RemoteCredentials | undefined> {
    const text = await this.secrets.get(STORE_CREDENTIALS_KEY);
    if (!text) return undefined;
    try {
      const c = JSON.parse(text) as Partial<RemoteCredentials>;
      return c.accessKeyId && c.secretAccessKey ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}) } : undefined;
    } catch {
      return undefined;
    }
  }

  async setStoreCredentials(credentials: RemoteCredentials): Promise<void> {
    await this.secrets.store(STORE_CREDENTIALS_KEY, JSON.stringify(credentials));
  }

  async clearStoreCredentials(): Promise<void> {
    await this.secrets.delete(STORE_CREDENTIALS_KEY);
  }
}
