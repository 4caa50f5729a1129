import * as vscode from 'vscode';
import type { Logger } from '../../core/log';
import { errorMessage, ValidationError } from '../../core/errors';
import type { PlannedCluster } from '../../core/upgrade';
import { consolidationUri, type ConsolidationPreview } from '../consolidationPreview';
import { Disposable } from '../disposable';
import { Commands } from '../ids';
import { guarded } from '../notifications';
import { preview } from '../tools/format';
import type { ClusterDecision, ConsolidateCommandOptions, ConsolidationController } from '../upgrade/consolidationController';
import type { LockNode } from '../views/locksTree';
import type { MemoryTreeNode } from '../views/memoriesTree';

/** What Consolidate Memories… returns to callers (tests, other extensions): the plan waiting for review. */
export interface PlannedConsolidation {
  key: string;
  /** The preview document. */
  uri: string;
  scanned: number;
  clusters: PlannedCluster[];
}

/** `merged_from` of a memory row: the ids it absorbed. */
export function mergedFrom(node: MemoryTreeNode | undefined): string[] {
  if (node?.kind !== 'memory' || !('metadata' in node.memory)) return [];
  const from = node.memory.metadata.merged_from;
  return Array.isArray(from) ? from.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Consolidate Memories… and what its preview and the views call: decide a cluster, review them in
 * a quick pick, apply the accepted ones, cancel, undo a run, restore one survivor's originals.
 */
export class ConsolidationCommands extends Disposable {
  constructor(private readonly consolidations: ConsolidationController, private readonly previews: ConsolidationPreview, private readonly log: Logger) {
    super();
    const register = <A extends unknown[], R>(id: string, what: string, fn: (...args: A) => Promise<R>) =>
      this._register(vscode.commands.registerCommand(id, guarded(what, log, fn)));
    register(Commands.consolidate, 'Consolidate Memories', (arg?: ConsolidateCommandOptions | MemoryTreeNode) => this.consolidate(arg));
    register(Commands.decideCluster, 'Accept or Reject a Cluster', async (key: string, clusterId: string, decision: ClusterDecision | 'discard' | null) => {
      if (decision === 'discard') return this.consolidations.discard(key);
      if (clusterId === '*') return this.consolidations.decideAll(key, decision ?? undefined);
      return this.consolidations.decide(key, clusterId, decision ?? undefined);
    });
    register(Commands.reviewConsolidation, 'Review Consolidation Clusters', (key?: string) => this.review(key));
    register(Commands.applyConsolidation, 'Apply Accepted Clusters', (key?: string, options?: { quiet?: boolean }) => this.apply(key, options));
    register(Commands.cancelConsolidation, 'Cancel Consolidation', async () => {
      const cancelled = this.consolidations.cancel();
      if (!cancelled) void vscode.window.showInformationMessage('Memory Lane: no consolidation is running in this window.');
      return cancelled;
    });
    register(Commands.undoConsolidation, 'Undo Consolidation', async (arg?: string | LockNode, options?: { quiet?: boolean }) => {
      const runId = typeof arg === 'string' ? arg : arg?.id.split(':')[1] ?? this.consolidations.history.find((r) => r.result?.merged.length)?.result?.runId;
      if (!runId) throw new ValidationError('runId', 'no consolidation of this window to undo (the CLI undoes any run: memory-lane consolidate --undo RUN_ID)');
      return this.consolidations.undo(runId, options);
    });
    register(Commands.restoreMerged, 'Restore Merged Originals', (arg?: MemoryTreeNode, options?: { ids?: string[]; quiet?: boolean }) => this.restore(arg, options));
  }

  private async consolidate(arg?: ConsolidateCommandOptions | MemoryTreeNode): Promise<PlannedConsolidation | undefined> {
    // From the Memories view's scope row: that scope, no question.
    const options: ConsolidateCommandOptions = arg && 'kind' in arg ? (arg.kind === 'scope' ? { scope: arg.scope } : {}) : arg ?? {};
    const record = await this.consolidations.plan(options);
    if (!record?.clusters?.length) return record ? { key: record.key, uri: '', scanned: record.scanned ?? 0, clusters: [] } : undefined;
    if (!options.noPreview) await this.previews.show(record);
    return { key: record.key, uri: consolidationUri(record.key).toString(), scanned: record.scanned ?? 0, clusters: record.clusters };
  }

  private newestKey(key: string | undefined): string {
    const found = key ?? this.consolidations.toReview[0]?.key;
    if (!found) throw new ValidationError('plan', 'no consolidation plan waits for review; run Consolidate Memories… first');
    return found;
  }

  /** The keyboard route through the decisions: every cluster in one multi-select list (checked = accept). */
  private async review(given?: string): Promise<boolean> {
    const key = this.newestKey(given);
    const record = this.consolidations.record(key)!;
    const items = (record.clusters ?? []).map((c, i) => ({
      label: `${i + 1}. ${preview(c.proposedText, 80)}`,
      description: `${c.members.length + 1} memories · similarity ${c.similarity.toFixed(2)}${c.exact ? ' · exact' : ''} · ${c.scope}`,
      detail: [c.survivor, ...c.members].map((id) => preview(c.texts[id] ?? '', 60)).join('  |  '),
      picked: record.decisions.get(c.id) === 'accepted',
      id: c.id,
    }));
    const picked = await vscode.window.showQuickPick(items, { canPickMany: true, title: 'Memory Lane: accept the clusters to merge', placeHolder: 'Checked clusters are accepted, the others rejected. Nothing is written yet.' });
    if (!picked) return false;
    const accepted = new Set(picked.map((p) => p.id));
    for (const c of record.clusters ?? []) this.consolidations.decide(key, c.id, accepted.has(c.id) ? 'accepted' : 'rejected');
    const choice = await vscode.window.showInformationMessage(`Memory Lane: ${accepted.size} of ${items.length} clusters accepted.`, 'Apply Accepted', 'Show Preview');
    if (choice === 'Apply Accepted') await this.apply(key);
    else if (choice === 'Show Preview') await this.previews.show(record);
    return true;
  }

  private async apply(given?: string, options: { quiet?: boolean } = {}) {
    const key = this.newestKey(given);
    const record = this.consolidations.record(key)!;
    const accepted = (record.clusters ?? []).filter((c) => record.decisions.get(c.id) === 'accepted').length;
    if (accepted === 0) {
      void vscode.window.showWarningMessage('Memory Lane: no cluster is accepted yet. Accept the ones to merge (or Discard the plan).', 'Review Clusters…').then((c) => {
        if (c) void vscode.commands.executeCommand(Commands.reviewConsolidation, key);
      });
      return undefined;
    }
    return this.consolidations.apply(key, options);
  }

  /** From a merged survivor's row: its originals back beside it (all, or the ones picked). */
  private async restore(node: MemoryTreeNode | undefined, options: { ids?: string[]; quiet?: boolean } = {}) {
    const from = mergedFrom(node);
    if (node?.kind !== 'memory' || from.length === 0) throw new ValidationError('memory', 'Restore Merged Originals works on a memory that consolidation merged others into (it records merged_from)');
    let ids = options.ids ?? from;
    if (!options.ids && from.length > 1) {
      const picked = await vscode.window.showQuickPick(from.map((id) => ({ label: id, picked: true })), { canPickMany: true, title: `Memory Lane: restore which originals of “${preview(node.memory.text, 40)}”?` });
      if (!picked?.length) return undefined;
      ids = picked.map((p) => p.label);
    }
    const restored: string[] = [];
    const failed: string[] = [];
    for (const id of ids) {
      try {
        restored.push((await this.consolidations.restore(id, { quiet: true })).restored);
      } catch (err) {
        failed.push(`${id}: ${errorMessage(err)}`);
      }
    }
    const message = `Memory Lane: restored ${restored.length} of the ${ids.length} memories merged into ${node.memory.id}${failed.length ? ` (not restored: ${failed.join('; ')})` : ''}.`;
    this.log.info(message.slice('Memory Lane: '.length));
    if (!options.quiet) void (failed.length ? vscode.window.showWarningMessage(message) : vscode.window.showInformationMessage(message));
    return { restored: restored.length, ids: restored, failed };
  }
}
