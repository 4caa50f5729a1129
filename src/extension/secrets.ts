import * as vscode from 'vscode';
import { Disposable } from './disposable';

/** Which endpoint a key belongs to. */
export type ApiKeyKind = 'embedding' | 'enrichment';

const SECRET_KEYS: Record<ApiKeyKind, string> = {
  embedding: 'memoryLane.apiKey.embedding',
  enrichment: 'memoryLane.apiKey.enrichment',
};

/**
 * API keys of the embedding and enrichment endpoints, kept in VS Code's SecretStorage (the OS
 * keychain on desktop) — never in settings, logs, error messages or the MCP server's arguments.
 */
export class ApiKeys extends Disposable {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<ApiKeyKind>());
  /** Fires when a key was set or cleared (in this or another window). */
  readonly onDidChange = this._onDidChange.event;

  constructor(private readonly secrets: vscode.SecretStorage) {
    super();
    this._register(secrets.onDidChange((e) => {
      const kind = (Object.keys(SECRET_KEYS) as ApiKeyKind[]).find((k) => SECRET_KEYS[k] === e.key);
      if (kind) this._onDidChange.fire(kind);
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
}
