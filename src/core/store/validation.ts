import { randomUUID } from 'node:crypto';
import { DimensionMismatchError, ValidationError } from '../errors';
import type { NewMemory } from './commitPlan';
import type { MemoryPatch } from './patch';
import { isCategory, LEGACY_CATEGORY_MAP, type Category, type MemoryRecord } from './schema';

export const LIMITS = {
  idMaxLength: 256,
  textMaxBytes: 1024 * 1024,
  scopeMaxLength: 256,
  metadataMaxBytes: 256 * 1024,
} as const;

// Scopes look like `global`, `workspace:<id>`, `project:<name>`, `user:<name>`: a lowercase kind, then anything printable.
const SCOPE_RE = /^[a-z][a-z0-9_-]{0,31}(:[^\u0000-\u001f\u007f]{1,224})?$/u;

export function validateId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string') throw new ValidationError(field, `must be a string, got ${typeof id}`);
  if (id.length === 0 || id.trim().length === 0) throw new ValidationError(field, 'must not be empty');
  if (id.length > LIMITS.idMaxLength) throw new ValidationError(field, `is ${id.length} characters; the limit is ${LIMITS.idMaxLength}`);
  if (/[\u0000-\u001f\u007f]/.test(id)) throw new ValidationError(field, 'must not contain control characters (NUL, newlines, …)');
  return id;
}

/** Control characters other than tab, LF and CR: binary data or terminal escapes, not memory text. */
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** The one check of memory text, for every way in: the service, imports and restores. */
export function validateText(text: unknown, field = 'text'): string {
  if (typeof text !== 'string') throw new ValidationError(field, `must be a string, got ${text === null ? 'null' : typeof text}`);
  if (text.trim().length === 0) throw new ValidationError(field, 'must not be empty or only whitespace');
  if (text.includes('\u0000')) throw new ValidationError(field, 'contains NUL bytes; binary content cannot be stored as a memory');
  const control = CONTROL_RE.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new ValidationError(field, `contains the control character U+${code} at position ${control.index}; memories are text (tabs and newlines are fine), not binary data or terminal escapes`);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.textMaxBytes) throw new ValidationError(field, `is ${bytes} bytes; the limit is ${LIMITS.textMaxBytes} bytes (1 MiB)`);
  return text;
}

export function validateImportance(value: unknown, field = 'importance'): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValidationError(field, `must be a finite number between 0 and 1, got ${String(value)}`);
  if (value < 0 || value > 1) throw new ValidationError(field, `must be between 0 and 1, got ${value}`);
  return value;
}

/** Accepts our categories and the legacy ones (mapped); anything else is an error naming the valid set. */
export function validateCategory(value: unknown, field = 'category'): Category {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${typeof value}`);
  const normalized = value.trim().toLowerCase();
  if (isCategory(normalized)) return normalized;
  const mapped = LEGACY_CATEGORY_MAP[normalized];
  if (mapped) return mapped;
  throw new ValidationError(field, `unknown category ${JSON.stringify(value)}; expected one of profile, preferences, entities, events, cases, patterns`);
}

export function validateScope(value: unknown, field = 'scope'): string {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${typeof value}`);
  if (value.length > LIMITS.scopeMaxLength) throw new ValidationError(field, `is longer than ${LIMITS.scopeMaxLength} characters`);
  if (!SCOPE_RE.test(value)) throw new ValidationError(field, `${JSON.stringify(value)} is not a scope; use "global" or "<kind>:<name>", e.g. "workspace:1a2b" or "project:api"`);
  return value;
}

export function validateVector(vector: unknown, dim: number, field = 'vector'): number[] {
  if (vector == null) throw new ValidationError(field, 'is missing (null); every memory needs an embedding');
  if (!Array.isArray(vector) && !ArrayBuffer.isView(vector)) throw new ValidationError(field, `must be an array of numbers, got ${typeof vector}`);
  const arr = Array.from(vector as ArrayLike<number>);
  if (arr.length !== dim) throw new DimensionMismatchError(dim, arr.length, field);
  for (let i = 0; i < arr.length; i++) {
    if (typeof arr[i] !== 'number' || !Number.isFinite(arr[i])) throw new ValidationError(field, `element ${i} is ${String(arr[i])}; vectors must be finite numbers`);
  }
  return arr;
}

export function validateMetadata(value: unknown, field = 'metadata'): Record<string, unknown> {
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(field, 'must be a JSON object');
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new ValidationError(field, `is not serializable to JSON (${(err as Error).message})`);
  }
  if (Buffer.byteLength(json) > LIMITS.metadataMaxBytes) throw new ValidationError(field, `is larger than ${LIMITS.metadataMaxBytes} bytes`);
  return value as Record<string, unknown>;
}

/** A new memory, checked field by field (`at` prefixes field names in batch errors), as the record to commit. */
export function validateNewMemory(row: NewMemory, dim: number, now: number, at = ''): MemoryRecord {
  if (!row || typeof row !== 'object') throw new ValidationError(at || 'memory', 'must be an object');
  return {
    id: row.id === undefined ? randomUUID() : validateId(row.id, `${at}id`),
    text: validateText(row.text, `${at}text`),
    vector: validateVector(row.vector, dim, `${at}vector`),
    category: validateCategory(row.category ?? 'cases', `${at}category`),
    scope: validateScope(row.scope ?? 'global', `${at}scope`),
    importance: validateImportance(row.importance ?? 0.5, `${at}importance`),
    created_at: row.created_at !== undefined && Number.isFinite(row.created_at) ? row.created_at : now,
    updated_at: now,
    rev: 1,
    metadata: { ...validateMetadata(row.metadata, `${at}metadata`) } as MemoryRecord['metadata'],
    ...withContext(validateContext(row.context, `${at}context`)),
  };
}

/** Optional context of a memory (MemoryRecord.context): absent, empty or blank means none; otherwise checked like text. */
export function validateContext(value: unknown, field = 'context'): string | undefined {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return undefined;
  return validateText(value, field);
}

function withContext(context: string | undefined): { context?: string } {
  return context === undefined ? {} : { context };
}

/** A patch, checked field by field; vectors and categories are normalised in place. */
export function validatePatch(patch: MemoryPatch, dim: number, at = ''): MemoryPatch {
  if (!patch || typeof patch !== 'object') throw new ValidationError(at || 'patch', 'must be an object');
  validateId(patch.id, `${at}id`);
  const set = patch.set;
  if (set) {
    if (set.text !== undefined) validateText(set.text, `${at}text`);
    if (set.vector !== undefined) set.vector = validateVector(set.vector, dim, `${at}vector`);
    if (set.category !== undefined) set.category = validateCategory(set.category, `${at}category`);
    if (set.scope !== undefined) validateScope(set.scope, `${at}scope`);
    if (set.importance !== undefined) validateImportance(set.importance, `${at}importance`);
  }
  if (patch.metadata !== undefined) validateMetadata(patch.metadata, `${at}metadata`);
  if (patch.history !== undefined && (!patch.history || typeof patch.history !== 'object' || !Array.isArray(patch.history.fields))) {
    throw new ValidationError(`${at}history`, 'must be a change record { writer, at, fields }');
  }
  for (const [field, values] of [['increment', patch.increment], ['raiseTo', patch.raiseTo]] as const) {
    for (const [key, v] of Object.entries(values ?? {})) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`${at}${field}.${key}`, `must be a finite number, got ${String(v)}`);
    }
  }
  return patch;
}
