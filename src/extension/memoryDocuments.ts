import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import type { MemoryView } from '../core/memoryService';
import { describeWriter, reviewOf } from '../core/provenance';
import { Disposable } from './disposable';
import { DOCUMENT_SCHEME } from './ids';
import type { StoreConnection } from './storeConnection';
import type { UpgradeController, UpgradeRecord } from './upgrade/upgradeController';
import { formatDuration } from './views/progressText';

/** `memory-lane:/memory/<id>.md`: one memory, read-only. */
export function memoryUri(id: string): vscode.Uri {
  return vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path: `/memory/${encodeURIComponent(id)}.md` });
}

/** `memory-lane:/upgrade/<runId>.md` (all failures of a run) or `…/<runId>/<id>.md` (one). */
export function upgradeFailureUri(runId: string, id?: string): vscode.Uri {
  return vscode.Uri.from({ scheme: DOCUMENT_SCHEME, path: id ? `/upgrade/${runId}/${encodeURIComponent(id)}.md` : `/upgrade/${runId}.md` });
}

/** A fenced block that no backtick run inside `text` can close early. */
function fenced(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}`;
}

const iso = (ms: number | undefined) => (typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '–');

/** The read-only Markdown view of a memory: L0 abstract, L1 overview, L2 content, the original text and all metadata. */
export function renderMemory(m: MemoryView, workspaceScope: string | undefined): string {
  const meta = m.metadata;
  const enrichment = meta.enrichment;
  const rows: Array<[string, string]> = [
    ['id', `\`${m.id}\``],
    ['scope', m.scope === workspaceScope ? `\`${m.scope}\` (this workspace)` : `\`${m.scope}\``],
    ['category', m.category],
    ['importance', String(m.importance)],
    ['tier', String(meta.tier ?? '–')],
    ['created', iso(m.created_at)],
    ['updated', iso(m.updated_at)],
    ['revision', String(m.rev)],
    ['recalled', `${meta.injected_count ?? 0} times${meta.last_injected_at ? `, last ${iso(meta.last_injected_at)}` : ''}`],
    ['written by', describeWriter(meta)],
    ['reviewed', m.reviewed ? (reviewOf(meta) ? `kept ${iso(reviewOf(meta)!.at)}` : 'needs no review') : '**not yet**: an agent wrote it and no person has kept it'],
    ['source', String(meta.source ?? '–')],
    ['enrichment', enrichment ? `${enrichment.provider}${enrichment.model ? ` (${enrichment.model})` : ''}, ${iso(enrichment.at)}${enrichment.fallbackReason ? ` — fell back to local: ${enrichment.fallbackReason}` : ''}` : '–'],
  ];
  const out = [`# Memory ${m.id}`, ''];
  if (m.legacy) {
    out.push('> **Legacy memory** — not upgraded yet: no abstract, overview or cleaned content. Run **Memory Lane: Upgrade Memories** to add them.', '');
  } else {
    out.push('## Abstract (L0)', '', fenced(String(meta.l0_abstract ?? ''), 'text'), '');
    if (meta.l1_overview) out.push('## Overview (L1)', '', fenced(String(meta.l1_overview), 'text'), '');
    if (meta.l2_content) out.push('## Content (L2)', '', fenced(String(meta.l2_content), 'text'), '');
  }
  out.push('## Text', '', fenced(m.text, 'text'), '');
  out.push('## Details', '', '| field | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`), '');
  if (m.history?.length) {
    out.push('## Changes', '', '| when | who | fields |', '|---|---|---|');
    for (const h of [...m.history].reverse()) out.push(`| ${iso(h.at)} | ${describeWriter({ writer: h.writer }).replace(/\|/g, '\\|')} | ${h.fields.join(', ')} |`);
    out.push('');
  }
  out.push('## Metadata', '', fenced(JSON.stringify(meta, null, 2), 'json'), '');
  out.push('_Memory texts are data recorded by agents and people. This document is read-only; edit the memory from the Memories view._', '');
  return out.join('\n');
}

export function renderUpgradeFailures(record: UpgradeRecord, onlyId?: string): string {
  const r = record.result;
  const failures = (r?.failed ?? []).filter((f) => !onlyId || f.id === onlyId);
  const out = [`# Upgrade ${record.runId}`, ''];
  out.push(`Started ${iso(record.startedAt)} with ${record.enricher}${record.finishedAt ? `, ended ${iso(record.finishedAt)} (${formatDuration(record.finishedAt - record.startedAt)})` : ''}.`, '');
  if (r) out.push(`Upgraded ${r.upgraded} of ${r.candidates}, skipped ${r.skipped}, failed ${r.failed.length}, fell back to local ${r.fallbacks}.`, '');
  if (record.error) out.push(`The run failed: \`${record.error.code}\` ${record.error.message}`, '');
  if (failures.length === 0) out.push(onlyId ? `No failure recorded for \`${onlyId}\`.` : 'No entry failed.');
  for (const f of failures) {
    out.push(`## \`${f.id}\``, '', fenced(f.reason, 'text'), '');
    if (f.deadLetterId) out.push(`Kept in the store's dead-letter queue as \`${f.deadLetterId}\` (replay it with \`memory-lane verify\`/the CLI).`, '');
  }
  out.push('', 'Failed entries stay as they were (legacy); running the upgrade again retries them.');
  return out.join('\n');
}

/**
 * Serves the `memory-lane:` read-only documents. Open memory documents follow changes to their
 * memory (this window's writes and other processes' commits).
 */
export class MemoryDocuments extends Disposable implements vscode.TextDocumentContentProvider {
  private readonly _onDidChange = this._register(new vscode.EventEmitter<vscode.Uri>());
  readonly onDidChange = this._onDidChange.event;

  constructor(private readonly connection: StoreConnection, private readonly upgrades: UpgradeController) {
    super();
    this._register(vscode.workspace.registerTextDocumentContentProvider(DOCUMENT_SCHEME, this));
    this._register(connection.onDidChangeMemories(() => {
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme === DOCUMENT_SCHEME && doc.uri.path.startsWith('/memory/')) this._onDidChange.fire(doc.uri);
      }
    }));
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const memory = /^\/memory\/(.+)\.md$/.exec(uri.path);
    if (memory) {
      const id = decodeURIComponent(memory[1]!);
      try {
        const service = await this.connection.existingService();
        if (!service) return `# Memory ${id}\n\nThere is no store at ${this.connection.dir} yet.`;
        return renderMemory(await service.get(id), this.connection.workspaceScope);
      } catch (err) {
        return `# Memory ${id}\n\nNot available: ${errorMessage(err)}`;
      }
    }
    const upgrade = /^\/upgrade\/([^/]+?)(?:\/(.+))?\.md$/.exec(uri.path);
    if (upgrade) {
      const record = this.upgrades.record(upgrade[1]!);
      if (!record) return `# Upgrade ${upgrade[1]}\n\nThis window no longer remembers that run.`;
      return renderUpgradeFailures(record, upgrade[2] ? decodeURIComponent(upgrade[2]) : undefined);
    }
    return `Unknown Memory Lane document: ${uri.toString()}`;
  }
}
