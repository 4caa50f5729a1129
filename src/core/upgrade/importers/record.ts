import { LEGACY_CATEGORY_MAP } from '../../store/schema';
import { validateImportance, validateMetadata, validateScope, validateText } from '../../store/validation';
import type { ImportOptions, ImportRecord } from './importRunner';

export interface RawFields {
  text: unknown;
  category?: unknown;
  scope?: unknown;
  importance?: unknown;
  createdAt?: unknown;
  metadata?: Record<string, unknown>;
}

/**
 * Builds a valid memory from a source record's fields, or throws a ValidationError naming the
 * field (reported as the line's reason). Lenient where the source is merely different: an unknown
 * category becomes `cases` with the original kept in metadata, timestamps in seconds or ISO text
 * are accepted.
 */
export function buildMemory(fields: RawFields, options: ImportOptions): ImportRecord['memory'] {
  const text = validateText(fields.text);
  const scope = validateScope(options.scope ?? (fields.scope === undefined || fields.scope === null || fields.scope === '' ? options.defaultScope ?? 'global' : fields.scope));
  const importance = fields.importance === undefined || fields.importance === null ? 0.5 : validateImportance(typeof fields.importance === 'string' ? Number(fields.importance) : fields.importance);
  const metadata: Record<string, unknown> = { ...(fields.metadata ?? {}) };
  let category = 'cases';
  if (typeof fields.category === 'string' && fields.category.trim()) {
    const mapped = LEGACY_CATEGORY_MAP[fields.category.trim().toLowerCase()];
    if (mapped) category = mapped;
    else metadata.original_category = fields.category;
  }
  validateMetadata(metadata);
  const createdAt = toEpochMs(fields.createdAt);
  return { text, scope, importance, category, metadata, ...(createdAt !== undefined ? { created_at: createdAt } : {}) };
}

/** Milliseconds since the epoch from ms, seconds, a bigint or an ISO string; undefined if absent or nonsense. */
export function toEpochMs(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let n: number;
  if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'number') n = value;
  else if (typeof value === 'string') n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Date.parse(value);
  else if (value instanceof Date) n = value.getTime();
  else return undefined;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  // Before 1973 in milliseconds is more plausibly seconds (Unix time).
  return Math.trunc(n < 1e11 ? n * 1000 : n);
}
