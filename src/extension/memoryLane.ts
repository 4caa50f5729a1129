import * as vscode from 'vscode';
import type { MemoryLaneApi } from './api';
import { MemoryParticipant } from './chat/memoryParticipant';
import { MemoryCommands } from './commands/memoryCommands';
import { StoreCommands } from './commands/storeCommands';
import { Configuration } from './configuration';
import { Disposable } from './disposable';
import { channelLogger } from './logging';
import type { ValueSchema } from './manifestSchema';
import { MemoryMcpServerProvider } from './mcp/mcpServerProvider';
import { MemoryDocuments } from './memoryDocuments';
import { ApiKeys } from './secrets';
import { StoreConnection } from './storeConnection';
import { MemoryTools } from './tools';
import { LanguageModelEnricher } from './upgrade/languageModelEnricher';
import { UpgradeController } from './upgrade/upgradeController';
import { ConsolidationController } from './upgrade/consolidationController';
import { ConsolidationPreview } from './consolidationPreview';
import { ConsolidationCommands } from './commands/consolidationCommands';
import { LanguageModelMerger } from './upgrade/languageModelMerger';
import { LockMonitorStatus } from './views/lockMonitorStatus';
import { LocksTree } from './views/locksTree';
import { MemoriesTree } from './views/memoriesTree';

/** What the container reads from package.json: the schemas values are checked against. */
interface Manifest {
  contributes?: {
    configuration?: { properties?: Record<string, ValueSchema> };
    languageModelTools?: Array<{ name: string; inputSchema?: ValueSchema }>;
  };
}

/**
 * The extension's container: creates every service and adapter once, owns them, and disposes them in
 * reverse order. `activate()` builds one and hands it to VS Code; nothing else holds long-lived state.
 * Nothing here opens LanceDB: the StoreConnection does that on the first use of a memory.
 */
export class MemoryLane extends Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly config: Configuration;
  readonly keys: ApiKeys;
  readonly connection: StoreConnection;
  readonly upgrades: UpgradeController;
  readonly consolidations: ConsolidationController;
  readonly tools: MemoryTools;
  readonly locks: LocksTree;
  readonly memories: MemoriesTree;
  readonly status: LockMonitorStatus;
  readonly mcp: MemoryMcpServerProvider;
  readonly participant: MemoryParticipant;

  constructor(context: vscode.ExtensionContext) {
    super();
    const started = Date.now();
    this.log = this._register(vscode.window.createOutputChannel('Memory Lane', { log: true }));
    const logger = (component: string) => channelLogger(this.log, component);
    const manifest = context.extension.packageJSON as Manifest;
    this.config = this._register(new Configuration(manifest.contributes?.configuration?.properties, logger('config')));
    this.keys = this._register(new ApiKeys(context.secrets));
    this.connection = this._register(new StoreConnection(this.config, this.keys, channelLogger(this.log)));
    this.upgrades = this._register(new UpgradeController(this.connection, this.config, this.keys, channelLogger(this.log)));
    this._register(new MemoryDocuments(this.connection, this.upgrades));
    this.consolidations = this._register(new ConsolidationController(this.connection, this.config, this.keys, channelLogger(this.log)));
    this._register(new ConsolidationCommands(this.consolidations, this._register(new ConsolidationPreview(this.connection, this.consolidations)), logger('consolidate')));
    this.tools = this._register(new MemoryTools(this.connection, logger('tools'), manifest.contributes?.languageModelTools));
    this.locks = this._register(new LocksTree(this.connection, this.upgrades, this.config, this.consolidations));
    this.memories = this._register(new MemoriesTree(this.connection, channelLogger(this.log)));
    this.status = this._register(new LockMonitorStatus(this.connection, this.upgrades, this.config));
    this._register(new MemoryCommands(this.connection, this.memories, logger('memory')));
    this.participant = this._register(new MemoryParticipant(this.connection, logger('chat'), context.extensionUri));
    this._register(new StoreCommands(this.connection, this.upgrades, this.config, this.keys, this.log, channelLogger(this.log)));
    const version = String((context.extension.packageJSON as { version?: string }).version ?? '0.0.0');
    this.mcp = this._register(new MemoryMcpServerProvider(context.asAbsolutePath('dist/mcp.js'), version, this.connection, this.config, this.keys, channelLogger(this.log)));
    this.log.info(`[extension] activated in ${Date.now() - started} ms; store ${this.connection.dir} (opened on first use), scopes ${this.connection.scopes.join(', ')}${vscode.workspace.isTrusted ? '' : '; untrusted workspace: workspace values of the store path and endpoints are ignored'}`);
  }

  /** Cancels a running upgrade (whole batches kept) and closes the store, flushing recall counts. */
  async shutdown(): Promise<void> {
    await this.connection.close();
  }

  get api(): MemoryLaneApi {
    const connection = this.connection;
    return {
      get storePath() { return connection.dir; },
      workspaceScope: this.connection.workspaceScope,
      service: () => this.connection.service(),
      locksSnapshot: () => this.locks.snapshot(),
      memoriesChildren: (node) => this.memories.getChildren(node),
      memoriesItem: (node) => this.memories.getTreeItem(node),
      lockMonitor: () => this.status.face,
      upgrades: () => ({ ...(this.upgrades.current ? { running: this.upgrades.current } : {}), history: this.upgrades.history }),
      locksRefreshCount: () => this.locks.refreshes,
      mcpServerDefinitions: async () => Promise.all(this.mcp.provideMcpServerDefinitions().map((d) => this.mcp.resolveMcpServerDefinition(d))),
      tools: this.tools,
      settingProblems: () => this.config.problems,
      createLanguageModelEnricher: (model, options) => new LanguageModelEnricher(model, options),
      createLanguageModelMerger: (model, options) => new LanguageModelMerger(model, options),
      consolidations: () => ({ ...(this.consolidations.current ? { running: this.consolidations.current } : {}), toReview: this.consolidations.toReview, history: this.consolidations.history }),
      participantChatRequests: () => this.participant.chatRequests,
      askParticipant: async (prompt, command, model) => {
        const parts: string[] = [];
        const buttons: vscode.Command[] = [];
        const stream = {
          markdown: (v: string | vscode.MarkdownString) => { parts.push(typeof v === 'string' ? v : v.value); },
          button: (c: vscode.Command) => { buttons.push(c); },
          progress: () => {},
        };
        const cancel = new vscode.CancellationTokenSource();
        try {
          const result = await this.participant.handle({ prompt, ...(command ? { command } : {}), ...(model ? { model } : {}) }, stream, cancel.token);
          return { markdown: parts.join(''), buttons, result };
        } finally {
          cancel.dispose();
        }
      },
    };
  }
}
