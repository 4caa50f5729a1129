// Identifiers shared by the code and package.json's `contributes`; keep the two in step
// (test/e2e/extension.e2e.ts checks that every contributed command and tool is registered).
export const Commands = {
  showLockMonitor: 'memoryLane.showLockMonitor',
  showLogs: 'memoryLane.showLogs',
  upgrade: 'memoryLane.upgrade',
  cancelUpgrade: 'memoryLane.cancelUpgrade',
  showUpgradeFailure: 'memoryLane.showUpgradeFailure',
  consolidate: 'memoryLane.consolidate',
  cancelConsolidation: 'memoryLane.cancelConsolidation',
  reviewConsolidation: 'memoryLane.reviewConsolidation',
  applyConsolidation: 'memoryLane.applyConsolidation',
  decideCluster: 'memoryLane.decideCluster',
  undoConsolidation: 'memoryLane.undoConsolidation',
  restoreMerged: 'memoryLane.restoreMerged',
  storeSelection: 'memoryLane.storeSelection',
  recall: 'memoryLane.recall',
  forgetMemory: 'memoryLane.forgetMemory',
  keepMemory: 'memoryLane.keepMemory',
  openMemory: 'memoryLane.openMemory',
  editMemory: 'memoryLane.editMemory',
  importMemories: 'memoryLane.import',
  exportMemories: 'memoryLane.export',
  runMaintenance: 'memoryLane.runMaintenance',
  setApiKey: 'memoryLane.setApiKey',
  setStoreCredentials: 'memoryLane.setStoreCredentials',
  clearStoreCredentials: 'memoryLane.clearStoreCredentials',
  clearApiKey: 'memoryLane.clearApiKey',
  chooseEnrichmentModel: 'memoryLane.chooseEnrichmentModel',
  filterMemories: 'memoryLane.filterMemories',
  clearMemoriesFilter: 'memoryLane.clearMemoriesFilter',
  refreshMemories: 'memoryLane.refreshMemories',
  openSettings: 'memoryLane.openSettings',
} as const;

export const Views = {
  container: 'memory-lane',
  locks: 'memoryLane.locks',
  memories: 'memoryLane.memories',
} as const;

/** Context keys the `when` clauses of package.json read. */
export const ContextKeys = {
  upgradeRunning: 'memoryLane.upgradeRunning',
  consolidationRunning: 'memoryLane.consolidationRunning',
  /** A consolidation plan waits for the person's accept/reject in its preview. */
  consolidationToReview: 'memoryLane.consolidationToReview',
  memoriesFiltered: 'memoryLane.memoriesFiltered',
  storeOpen: 'memoryLane.storeOpen',
} as const;

/** Names of the Language Model Tools (also the MCP server's tool names: one vocabulary for agents). */
export const Tools = {
  store: 'memory_store',
  recall: 'memory_recall',
  update: 'memory_update',
  forget: 'memory_forget',
  list: 'memory_list',
} as const;

/** The id of `contributes.chatParticipants` (`@memory` in chat). */
export const PARTICIPANT_ID = 'memoryLane.memory';

/** The id of `contributes.mcpServerDefinitionProviders`. */
export const MCP_PROVIDER_ID = 'memoryLane.mcpServers';

/** URI scheme of the read-only documents (a memory, an upgrade's failures). */
export const DOCUMENT_SCHEME = 'memory-lane';

/** URI scheme of a consolidation plan's preview (`memory-lane-consolidation:/<planId>/Consolidation preview.md`), with its CodeLenses. */
export const CONSOLIDATION_SCHEME = 'memory-lane-consolidation';

/** VS Code's built-in "focus this view" command, `<viewId>.focus`. */
export const focusViewCommand = (viewId: string): string => `${viewId}.focus`;
