import * as vscode from 'vscode';
import { Disposable } from './disposable';
import { CONSOLIDATION_SCHEME, Commands } from './ids';
import type { StoreConnection } from './storeConnection';
import type { ConsolidationController, ConsolidationRecord } from './upgrade/consolidationController';
import { clusterLines, decisionCounts, renderPlan } from './views/consolidationText';

/** `memory-lane-consolidation:/<planKey>/Consolidation preview.md`: one plan's preview (the tab reads "Consolidation preview.md"). */
export function consolidationUri(key: string): vscode.Uri {
  return vscode.Uri.from({ scheme: CONSOLIDATION_SCHEME, path: `/${key}/Consolidation preview.md` });
}

const keyOf = (uri: vscode.Uri) => /^\/([^/]+)\/[^/]+\.md$/.exec(uri.path)?.[1];

/**
 * The consolidation preview: a read-only Markdown document per plan (members' texts, similarity,
 * exact or not, the proposed merged text) with CodeLenses — Accept / Reject on each cluster's
 * heading, Apply accepted / Accept all / Reject all / Discard at the top, Undo once written. A text
 * document rather than a webview: the editor's own find, screen-reader and keyboard support
 * (*Show CodeLens Commands for Current Line*), and a quick pick alternative for the decisions.
 * The document and its lenses re-render whenever the plan changes.
 */
export class ConsolidationPreview extends Disposable implements vscode.TextDocumentContentProvider, vscode.CodeLensProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidChangeCodeLenses = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this._onDidChangeCodeLenses.event;

  constructor(private readonly connection: StoreConnection, private readonly consolidations: ConsolidationController) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(CONSOLIDATION_SCHEME, this));
    this._register(vscode.languages.registerCodeLensProvider({ scheme: CONSOLIDATION_SCHEME }, this));
    this._register(consolidations.onDidChange((record) => {
      if (!record) return;
      this._onDidChange.fire(consolidationUri(record.key));
      this._onDidChangeCodeLenses.fire();
    }));
  }

  /** Opens (or shows) a plan's preview. */
  async show(record: ConsolidationRecord): Promise<vscode.TextEditor> {
    const doc = await vscode.workspace.openTextDocument(consolidationUri(record.key));
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const record = this.recordOf(uri);
    if (!record) return '# Consolidation\n\nThis window no longer has that plan (it was applied in an earlier session, or the window reloaded). Run **Memory Lane: Consolidate Memories…** again.';
    return renderPlan(record, this.connection.workspaceScope);
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const record = this.recordOf(document.uri);
    if (!record?.clusters) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lens = (range: vscode.Range, title: string, command: string, args: unknown[], tooltip?: string) =>
      new vscode.CodeLens(range, { title, command, arguments: args, ...(tooltip ? { tooltip } : {}) });
    if (record.stage === 'done' && record.result) {
      return record.result.merged.length && !record.undone
        ? [lens(top, '$(discard) Undo this consolidation', Commands.undoConsolidation, [record.result.runId], 'Restore every memory this run merged, exactly as it was')]
        : [];
    }
    if (record.stage !== 'review') return [];
    const { accepted } = decisionCounts(record);
    const out = [
      lens(top, `$(check-all) Apply ${accepted} accepted`, Commands.applyConsolidation, [record.key], 'Write the accepted clusters; the others stay as they are'),
      lens(top, 'Accept all', Commands.decideCluster, [record.key, '*', 'accepted']),
      lens(top, 'Reject all', Commands.decideCluster, [record.key, '*', 'rejected']),
      lens(top, 'Discard plan', Commands.decideCluster, [record.key, '*', 'discard'], 'Forget this plan without writing anything'),
    ];
    const lines = clusterLines(Array.from({ length: document.lineCount }, (_, i) => document.lineAt(i).text));
    record.clusters.forEach((c, i) => {
      const line = lines.get(i);
      if (line === undefined) return;
      const range = new vscode.Range(line, 0, line, 0);
      const d = record.decisions.get(c.id);
      out.push(
        lens(range, d === 'accepted' ? '$(pass-filled) Accepted' : '$(check) Accept', Commands.decideCluster, [record.key, c.id, d === 'accepted' ? null : 'accepted'], d === 'accepted' ? 'Accepted: click to leave it undecided' : `Merge these ${c.members.length + 1} memories into one`),
        lens(range, d === 'rejected' ? '$(error) Rejected' : '$(close) Reject', Commands.decideCluster, [record.key, c.id, d === 'rejected' ? null : 'rejected'], d === 'rejected' ? 'Rejected: click to leave it undecided' : 'Keep these memories apart'),
      );
    });
    return out;
  }

  private recordOf(uri: vscode.Uri): ConsolidationRecord | undefined {
    const key = keyOf(uri);
    return key ? this.consolidations.record(key) ?? this.consolidations.history.find((r) => r.key === key) : undefined;
  }
}
