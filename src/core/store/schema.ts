import { Field, FixedSizeList, Float32, Float64, Int64, Schema, Utf8 } from 'apache-arrow';
import { searchTextOf } from './searchText';

/** The table every store keeps its memories in. */
export const MEMORIES_TABLE = 'memories';

/** Bumped whenever the table layout changes; see migrations.ts. (2: the `context` and `search_text` columns.) */
export const CURRENT_SCHEMA_VERSION = 2;

export const CATEGORIES = ['profile', 'preferences', 'entities', 'events', 'cases', 'patterns'] as const;
export type Category = (typeof CATEGORIES)[number];

/** Categories used by earlier schemas and by memory-lancedb-pro, mapped onto ours. */
export const LEGACY_CATEGORY_MAP: Readonly<Record<string, Category>> = {
  preference: 'preferences',
  fact: 'entities',
  decision: 'events',
  entity: 'entities',
  other: 'cases',
  reflection: 'patterns',
  profile: 'profile',
  preferences: 'preferences',
  entities: 'entities',
  events: 'events',
  cases: 'cases',
  patterns: 'patterns',
};

export function isCategory(value: string): value is Category {
  return (CATEGORIES as readonly string[]).includes(value);
}

/** Smart metadata keys the upgrader writes; a row without `l0_abstract` is legacy. */
export interface SmartMetadata {
  l0_abstract?: string;
  l1_overview?: string;
  l2_content?: string;
  tier?: string;
  confidence?: number;
  access_count?: number;
  injected_count?: number;
  last_injected_at?: number;
  source?: string;
  enrichment?: { provider: string; model?: string; at: number; fallbackReason?: string };
  upgraded_from?: string;
  upgraded_at?: number;
  [key: string]: unknown;
}

/** A memory as the core hands it out: plain numbers and arrays, metadata parsed. */
export interface MemoryRecord {
  id: string;
  text: string;
  vector: number[];
  category: string;
  scope: string;
  importance: number;
  created_at: number;
  updated_at: number;
  rev: number;
  metadata: SmartMetadata;
  /**
   * What came just before this memory when it was written (the preceding turn or message), as the
   * caller gave it: indexed for full-text search with the text (store/searchText.ts), never part of
   * the text a recall returns. Kept through updates.
   */
  context?: string;
  /**
   * Token of the commit that last wrote this row. After a conflicting commit it tells, without
   * ambiguity, whether our write landed: comparing contents cannot (another writer's commuting
   * increment can produce exactly the state we planned). Stored inside the metadata JSON as
   * `_commit`, so older processes keep working; never part of `metadata` here.
   */
  commit?: string;
}

/** Metadata key that carries MemoryRecord.commit in the stored JSON. */
export const COMMIT_KEY = '_commit';

export function isLegacy(record: Pick<MemoryRecord, 'metadata'>): boolean {
  return typeof record.metadata.l0_abstract !== 'string';
}

export function memoriesSchema(dim: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('text', new Utf8(), false),
    new Field('vector', new FixedSizeList(dim, new Field('item', new Float32(), true)), false),
    new Field('category', new Utf8(), false),
    new Field('scope', new Utf8(), false),
    new Field('importance', new Float64(), false),
    new Field('created_at', new Int64(), false),
    new Field('updated_at', new Int64(), false),
    new Field('rev', new Int64(), false),
    new Field('metadata', new Utf8(), false),
    // Schema v2 (migrations.ts adds them to older tables, nullable as added columns are).
    new Field('context', new Utf8(), true),
    /** Derived from text, context and created_at at every write (store/searchText.ts); the FTS index is on it. */
    new Field('search_text', new Utf8(), true),
  ]);
}

/** What LanceDB returns for one row (Int64 as bigint, vector as an Arrow vector). */
export type RawRow = Record<string, unknown>;

/**
 * Turns a raw row into a record. Malformed metadata JSON in an existing row (written by another
 * tool, or damaged) is kept, not thrown away: it is preserved under `_unparsed` so reads never fail
 * and a later write never erases it.
 */
export function fromRawRow(raw: RawRow): MemoryRecord {
  const metadata = parseMetadata(raw.metadata);
  const commit = typeof metadata[COMMIT_KEY] === 'string' ? (metadata[COMMIT_KEY] as string) : undefined;
  delete metadata[COMMIT_KEY];
  return {
    id: String(raw.id),
    text: String(raw.text ?? ''),
    vector: raw.vector == null ? [] : Array.from(raw.vector as Iterable<number>),
    category: String(raw.category ?? ''),
    scope: String(raw.scope ?? 'global'),
    importance: Number(raw.importance ?? 0),
    created_at: Number(raw.created_at ?? 0),
    updated_at: Number(raw.updated_at ?? 0),
    rev: Number(raw.rev ?? 0),
    metadata,
    ...(typeof raw.context === 'string' && raw.context ? { context: raw.context } : {}),
    ...(commit ? { commit } : {}),
  };
}

export function parseMetadata(value: unknown): SmartMetadata {
  if (value == null || value === '') return {};
  if (typeof value !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as SmartMetadata;
    return { _unparsed: value };
  } catch {
    return { _unparsed: value };
  }
}

/** The row as LanceDB stores it. */
export function toRawRow(record: MemoryRecord): RawRow {
  return {
    id: record.id,
    text: record.text,
    vector: record.vector,
    category: record.category,
    scope: record.scope,
    importance: record.importance,
    created_at: BigInt(Math.trunc(record.created_at)),
    updated_at: BigInt(Math.trunc(record.updated_at)),
    rev: BigInt(record.rev),
    metadata: JSON.stringify(record.commit ? { ...record.metadata, [COMMIT_KEY]: record.commit } : record.metadata),
    context: record.context ?? '',
    search_text: searchTextOf(record),
  };
}
