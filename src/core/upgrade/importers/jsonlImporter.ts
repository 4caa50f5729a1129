import { basename } from 'node:path';
import { errorMessage } from '../../errors';
import type { MemoryStore } from '../../store/memoryStore';
import { runImport, type ImportOptions, type ImportResult, type ParsedItem } from './importRunner';
import { isPlainObject, readJsonLines } from './jsonLines';
import { buildMemory } from './record';

/**
 * JSON Lines, one memory per line:
 *   {"id"?: "…", "text": "…", "category"?: "…", "scope"?: "…", "importance"?: 0.7,
 *    "created_at"? | "timestamp"?: ms | s | ISO, "metadata"?: {…} | "<json>", "vector"?: [...]}
 * (`content` or `memory` are accepted for `text`.) Metadata is kept as given; a memory Memory Lane
 * exported with smart metadata stays smart, anything else arrives legacy for the upgrader.
 */
export function importJsonl(store: MemoryStore, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  return runImport(store, 'jsonl', path, parseJsonl(path, options), options);
}

async function* parseJsonl(path: string, options: ImportOptions): AsyncGenerator<ParsedItem> {
  const file = basename(path);
  const importedAt = Date.now();
  for await (const item of readJsonLines(path)) {
    if ('error' in item) { yield { line: item.line, malformed: item.error }; continue; }
    const obj = item.value;
    if (!isPlainObject(obj)) { yield { line: item.line, malformed: 'not a JSON object' }; continue; }
    try {
      const rawId = obj.id ?? obj._id;
      const originalId = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : undefined;
      const text = obj.text ?? obj.content ?? obj.memory;
      let metadata: Record<string, unknown> = {};
      if (isPlainObject(obj.metadata)) metadata = { ...obj.metadata };
      else if (typeof obj.metadata === 'string' && obj.metadata.trim()) {
        try {
          const parsed: unknown = JSON.parse(obj.metadata);
          metadata = isPlainObject(parsed) ? parsed : { source_metadata: obj.metadata };
        } catch {
          metadata = { source_metadata: obj.metadata };
        }
      }
      metadata.source ??= 'import:jsonl';
      metadata.imported_from = { format: 'jsonl', file, line: item.line, ...(originalId !== undefined ? { original_id: originalId } : {}) };
      metadata.imported_at = importedAt;
      const memory = buildMemory({ text, category: obj.category, scope: obj.scope, importance: obj.importance, createdAt: obj.created_at ?? obj.createdAt ?? obj.timestamp, metadata }, options);
      const vector = Array.isArray(obj.vector) && obj.vector.every((x) => typeof x === 'number') ? (obj.vector as number[]) : undefined;
      yield {
        line: item.line,
        record: {
          line: item.line,
          key: originalId !== undefined ? `id:${originalId}` : `text:${memory.scope}\n${memory.text}`,
          ...(originalId !== undefined ? { originalId } : {}),
          memory,
          ...(vector ? { vector } : {}),
        },
      };
    } catch (err) {
      yield { line: item.line, malformed: errorMessage(err) };
    }
  }
}
