import { basename } from 'node:path';
import { errorMessage, FormatError } from '../../errors';
import type { MemoryStore } from '../../store/memoryStore';
import { runImport, type ImportOptions, type ImportResult, type ParsedItem } from './importRunner';
import { isPlainObject, readJsonLines } from './jsonLines';
import { buildMemory } from './record';

const SOURCE = 'import:mcp-knowledge-graph';

/**
 * The MCP reference memory server's knowledge graph (its `memory.jsonl`):
 *   {"type":"entity","name":"John_Smith","entityType":"person","observations":["Speaks Spanish", …]}
 *   {"type":"relation","from":"John_Smith","to":"Anthropic","relationType":"works_at"}
 * Each observation becomes one memory ("John_Smith (person): Speaks Spanish"), each relation one
 * ("John_Smith works at Anthropic"), an entity without observations one ("John_Smith is a person").
 * One memory per fact keeps recall precise and makes re-import incremental: a new observation in
 * the graph is imported next time, the ones already imported are not duplicated.
 */
export function importMcpKnowledgeGraph(store: MemoryStore, path: string, options: ImportOptions = {}): Promise<ImportResult> {
  return runImport(store, 'mcp-knowledge-graph', path, parseGraph(path, options), options);
}

function nonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || !value.trim()) throw new FormatError(`"${field}" must be a non-empty string`);
  return value.trim();
}

async function* parseGraph(path: string, options: ImportOptions): AsyncGenerator<ParsedItem> {
  const file = basename(path);
  const importedAt = Date.now();
  for await (const item of readJsonLines(path)) {
    if ('error' in item) { yield { line: item.line, malformed: item.error }; continue; }
    const obj = item.value;
    if (!isPlainObject(obj)) { yield { line: item.line, malformed: 'not a JSON object' }; continue; }
    const from = { format: 'mcp-knowledge-graph', file, line: item.line };
    try {
      if (obj.type === 'entity') {
        const name = nonEmptyString(obj.name, 'name');
        const entityType = nonEmptyString(obj.entityType, 'entityType');
        const observations = obj.observations ?? [];
        if (!Array.isArray(observations)) throw new FormatError('"observations" must be an array of strings');
        const bad = observations.findIndex((o) => typeof o !== 'string');
        if (bad >= 0) throw new FormatError(`observation ${bad + 1} is not a string`);
        const facts = (observations as string[]).map((o) => o.trim()).filter(Boolean);
        const base = { source: SOURCE, entity: name, entity_type: entityType, imported_from: from, imported_at: importedAt };
        if (facts.length === 0) {
          yield { line: item.line, record: { line: item.line, key: `entity:${name}`, memory: buildMemory({ text: `${name} is a ${entityType}.`, category: 'entities', metadata: base }, options) } };
        }
        for (const fact of facts) {
          yield { line: item.line, record: { line: item.line, key: `entity:${name}\nobservation:${fact}`, memory: buildMemory({ text: `${name} (${entityType}): ${fact}`, category: 'entities', metadata: base }, options) } };
        }
      } else if (obj.type === 'relation') {
        const fromName = nonEmptyString(obj.from, 'from');
        const to = nonEmptyString(obj.to, 'to');
        const relationType = nonEmptyString(obj.relationType, 'relationType');
        const metadata = { source: SOURCE, relation: { from: fromName, to, type: relationType }, imported_from: from, imported_at: importedAt };
        yield { line: item.line, record: { line: item.line, key: `relation:${fromName}\n${relationType}\n${to}`, memory: buildMemory({ text: `${fromName} ${relationType.replace(/_/g, ' ')} ${to}`, category: 'entities', metadata }, options) } };
      } else {
        throw new FormatError(`unknown "type" ${JSON.stringify(obj.type)}; expected "entity" or "relation"`);
      }
    } catch (err) {
      yield { line: item.line, malformed: errorMessage(err) };
    }
  }
}
