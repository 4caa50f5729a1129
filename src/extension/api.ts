import type * as vscode from 'vscode';
import type { MemoryService } from '../core/memoryService';
import type { SettingProblem } from './configuration';
import type { MemoryTools } from './tools';
import type { EnrichmentChatModel, LanguageModelEnricher, LanguageModelEnricherOptions } from './upgrade/languageModelEnricher';
import type { UpgradeRecord } from './upgrade/upgradeController';
import type { ConsolidationRecord } from './upgrade/consolidationController';
import type { LanguageModelMerger, LanguageModelMergerOptions } from './upgrade/languageModelMerger';
import type { LockMonitorFace } from './views/lockMonitorStatus';
import type { LockNode } from './views/locksTree';
import type { MemoryTreeNode } from './views/memoriesTree';

/**
 * What `activate()` returns (`vscode.extensions.getExtension('memory-lane.memory-lane').exports`):
 * read access to what the views show, for the end-to-end tests and for other extensions. Agents use
 * the Language Model tools and the MCP server instead.
 */
export interface MemoryLaneApi {
  /** The store folder this window uses (follows `memoryLane.storePath`). */
  readonly storePath: string;
  /** `workspace:<id>` of this window, if it has a folder. */
  readonly workspaceScope: string | undefined;
  /** The memory service (opens the store on first use). */
  service(): Promise<MemoryService>;
  /** The Locks & Upgrades view as data, exactly as it is rendered now. */
  locksSnapshot(): LockNode[];
  /** Rows of the Memories view under `node` (the roots without), exactly as the view gets them. */
  memoriesChildren(node?: MemoryTreeNode): Promise<MemoryTreeNode[]>;
  /** The tree item the Memories view renders for a row (its description, context value, actions). */
  memoriesItem(node: MemoryTreeNode): vscode.TreeItem;
  /** The status-bar lock monitor's current face. */
  lockMonitor(): LockMonitorFace;
  /** Upgrades started in this window: the running one and the finished ones (newest first). */
  upgrades(): { running?: UpgradeRecord; history: readonly UpgradeRecord[] };
  /** How many times the Locks & Upgrades tree was refreshed (the throttle keeps it to a few per second). */
  locksRefreshCount(): number;
  /** The MCP server definitions offered to the editor, resolved as if about to start. */
  mcpServerDefinitions(): Promise<vscode.McpStdioServerDefinition[]>;
  readonly tools: MemoryTools;
  /** Settings whose values this window does not use as written (each was logged and shown once). */
  settingProblems(): SettingProblem[];
  /** Builds the `vscode.lm` enricher on a given chat model (tests pass a fake one). */
  createLanguageModelEnricher(model: EnrichmentChatModel, options?: LanguageModelEnricherOptions): LanguageModelEnricher;
  /** Builds consolidation's `vscode.lm` merger on a given chat model (tests pass a fake one). */
  createLanguageModelMerger(model: EnrichmentChatModel, options?: LanguageModelMergerOptions): LanguageModelMerger;
  /** Consolidations of this window: the one planning or writing, the plans waiting for review, the last runs. */
  consolidations(): { running?: ConsolidationRecord; toReview: ConsolidationRecord[]; history: readonly ConsolidationRecord[] };
  /**
   * Runs the `@memory` participant's handler on a request (`command`: recall, remember, forget,
   * review, stats) and returns what it streamed: the markdown, the buttons and the ChatResult. In
   * code-server 1.139 with no chat model signed in, `workbench.action.chat.open` with
   * "@memory /stats" never reaches the participant (seen in the e2e harness), so the tests run the
   * same handler through this.
   */
  /** How many requests VS Code's chat has sent to `@memory` in this window. */
  participantChatRequests(): number;
  askParticipant(prompt: string, command?: string, model?: vscode.LanguageModelChat): Promise<{ markdown: string; buttons: vscode.Command[]; result: vscode.ChatResult }>;
}
