import { DimensionMismatchError, ValidationError } from '../errors';
import { isCategory, LEGACY_CATEGORY_MAP, type Category } from './schema';

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

export function validateText(text: unknown, field = 'text'): string {
  if (typeof text !== 'string') throw new ValidationError(field, `must be a string, got ${text === null ? 'null' : typeof text}`);
  if (text.trim().length === 0) throw new ValidationError(field, 'must not be empty or only whitespace');
  if (text.includes('\u0000')) throw new ValidationError(field, 'contains NUL bytes; binary content cannot be stored as a memory');
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
