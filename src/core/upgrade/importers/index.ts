import { promises as fs } from 'node:fs';
import { ValidationError } from '../../errors';
import type { MemoryStore } from '../../store/memoryStore';
import type { ImportFormat, ImportResult } from './importRunner';
import { importJsonl } from './jsonlImporter';
import { isPlainObject, readJsonLines } from './jsonLines';
import { importLanceDbPro, type LanceDbProImportOptions } from './lancedbProImporter';
import { importMcpKnowledgeGraph } from './mcpGraphImporter';

export { importJsonl } from './jsonlImporter';
export { importMcpKnowledgeGraph } from './mcpGraphImporter';
export { importLanceDbPro, type LanceDbProImportOptions } from './lancedbProImporter';
export { importId, type ImportFormat, type ImportIssue, type ImportOptions, type ImportProgress, type ImportResult } from './importRunner';

/**
 * Which format a path holds: a folder is a LanceDB database (memory-lancedb-pro); a JSONL file
 * whose first parseable line has `"type": "entity" | "relation"` is an MCP knowledge graph; any
 * other file is JSONL memories.
 */
export async function detectImportFormat(path: string): Promise<ImportFormat> {
  const st = await fs.stat(path);
  if (st.isDirectory()) return 'memory-lancedb-pro';
  let checked = 0;
  for await (const item of readJsonLines(path)) {
    if ('value' in item && isPlainObject(item.value)) return item.value.type === 'entity' || item.value.type === 'relation' ? 'mcp-knowledge-graph' : 'jsonl';
    if (++checked >= 20) break;
  }
  return 'jsonl';
}

/** Imports a file or folder in the given (or detected) format. */
export async function importFrom(store: MemoryStore, path: string, options: LanceDbProImportOptions & { format?: ImportFormat | 'auto' } = {}): Promise<ImportResult> {
  const format = !options.format || options.format === 'auto' ? await detectImportFormat(path) : options.format;
  switch (format) {
    case 'jsonl': return importJsonl(store, path, options);
    case 'mcp-knowledge-graph': return importMcpKnowledgeGraph(store, path, options);
    case 'memory-lancedb-pro': return importLanceDbPro(store, path, options);
    default: throw new ValidationError('format', `unknown import format ${JSON.stringify(format)}; expected jsonl, mcp-knowledge-graph or memory-lancedb-pro`);
  }
}
