import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import type { Configuration } from '../configuration';
import { Disposable } from '../disposable';
import { MCP_PROVIDER_ID } from '../ids';
import type { ApiKeys } from '../secrets';
import type { StoreConnection } from '../storeConnection';
import { lockSettingsEnv } from '../../core/defaults';
import { REQUIRE_APPROVAL_ENV } from '../../core/provenance';

export const MCP_SERVER_LABEL = 'Memory Lane';

/**
 * Offers the bundled stdio MCP server (dist/mcp.js) to agents in the editor, pointed at the very
 * store this window uses and scoped to this workspace, so an agent speaking MCP shares memories
 * with the Language Model tools, other windows and the CLI.
 *
 * The command is the extension host's own executable: plain Node in a remote/server host, the
 * Electron binary on desktop, which ELECTRON_RUN_AS_NODE=1 turns into Node (harmless for Node).
 * Definitions may be cached by VS Code, so they never carry a key: the embedding key from
 * SecretStorage is added in resolveMcpServerDefinition, just before the server starts.
 */
export class MemoryMcpServerProvider extends Disposable implements vscode.McpServerDefinitionProvider<vscode.McpStdioServerDefinition> {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeMcpServerDefinitions = this._onDidChange.event;

  constructor(
    private readonly serverScript: string,
    private readonly version: string,
    private readonly connection: StoreConnection,
    private readonly config: Configuration,
    private readonly keys: ApiKeys,
    private readonly log: Logger,
  ) {
    super();
    this._register(connection.onDidChangeLocation(() => this._onDidChange.fire()));
    this._register(config.onDidChange((e) => { if (config.changed(e, 'embedding', 'lock', 'review', 'remote')) this._onDidChange.fire(); }));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this._onDidChange.fire()));
    this._register(vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, this));
  }

  provideMcpServerDefinitions(): vscode.McpStdioServerDefinition[] {
    // The window refuses an unusable memoryLane.storePath; a server must not open (or create) a store there either.
    if (this.connection.locationProblem) return [];
    const env: Record<string, string> = {
      ELECTRON_RUN_AS_NODE: '1',
      MEMORY_LANE_SCOPES: this.connection.scopes.join(','),
      LANCEDB_LOG: 'error',
      // glibc gives each of LanceDB's threads a malloc arena of its own and keeps freed native memory
      // in them: two arenas took a 100k upgrade's peak from ~800 to ~620 MB (docs/lancedb.md#caches).
      // Read only at process start, so it is set here; other platforms ignore it.
      MALLOC_ARENA_MAX: '2',
      // Every process on the store must agree on deadlines and on when a holder is stale.
      ...lockSettingsEnv(this.config.lockSettings()),
      // The window's review setting holds an MCP agent's memories for approval too, not only the LM tools'.
      [REQUIRE_APPROVAL_ENV]: this.config.get('review.requireApproval') ? '1' : '0',
    };
    if (this.config.get('embedding.provider') === 'openai-compatible') {
      const baseUrl = this.config.get('embedding.endpoint').trim();
      const model = this.config.get('embedding.model').trim();
      const dims = this.config.get('embedding.dimensions');
      if (baseUrl && model) {
        env.MEMORY_LANE_EMBEDDING_BASE_URL = baseUrl;
        env.MEMORY_LANE_EMBEDDING_MODEL = model;
        if (dims) env.MEMORY_LANE_EMBEDDING_DIMENSIONS = String(dims);
      }
    }
    if (this.connection.isRemote) {
      // A team store's endpoints as the CLI reads them (docs/team-store.md); credentials are added at start.
      const remote = (key: 'remote.endpoint' | 'remote.region' | 'remote.dynamodbEndpoint') => this.config.get(key).trim();
      if (remote('remote.endpoint')) env.AWS_ENDPOINT_URL = remote('remote.endpoint');
      if (remote('remote.region')) env.AWS_REGION = remote('remote.region');
      if (remote('remote.dynamodbEndpoint')) env.MEMORY_LANE_DYNAMODB_ENDPOINT = remote('remote.dynamodbEndpoint');
      if (this.config.get('remote.allowHttp')) env.MEMORY_LANE_S3_ALLOW_HTTP = '1';
    }
    const server = new vscode.McpStdioServerDefinition(MCP_SERVER_LABEL, process.execPath, [this.serverScript, '--db', this.connection.dir], env, this.version);
    return [server];
  }

  async resolveMcpServerDefinition(server: vscode.McpStdioServerDefinition): Promise<vscode.McpStdioServerDefinition> {
    if (server.env.MEMORY_LANE_EMBEDDING_BASE_URL) {
      const key = await this.keys.get('embedding');
      if (key) server.env = { ...server.env, MEMORY_LANE_EMBEDDING_API_KEY: key };
    }
    if (this.connection.isRemote) {
      // From secret storage, as the embedding key: in the started process's environment, never in its arguments or a settings file.
      const credentials = await this.keys.storeCredentials();
      if (credentials) server.env = { ...server.env, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}) };
    }
    this.log.info(`[mcp] starting the Memory Lane MCP server on ${this.connection.dir} (scopes ${server.env.MEMORY_LANE_SCOPES})`);
    return server;
  }
}
