/**
 * The part of JSON Schema that tool inputs and settings are declared in, and a checker for it whose
 * messages name where a value breaks its schema (`importance: must be a number from 0 to 1, got 7`).
 * One checker for every adapter, so a model, an MCP client and a settings.json read the same words.
 */

export type SchemaType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

export interface ValueSchema {
  type?: SchemaType | SchemaType[];
  enum?: readonly unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  /** VS Code's own extension: shown in the Settings editor, and here, instead of the pattern. */
  patternErrorMessage?: string;
  items?: ValueSchema;
  properties?: Record<string, ValueSchema>;
  required?: readonly string[];
  /** `false`: a key not in `properties` is a mistake (a misspelt or renamed parameter), not something to ignore. */
  additionalProperties?: boolean;
  default?: unknown;
  description?: string;
}

export interface SchemaProblem {
  /** Where in the value: `importance`, `category[1]`; empty for the value itself. */
  path: string;
  message: string;
}

/** A value as a person reads it in a message: JSON, cut short; NaN, Infinity and undefined by name. */
export function describeValue(value: unknown, max = 60): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const TYPE_NAMES: Record<SchemaType, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', null: 'null', array: 'a list', object: 'an object',
};

function fitsType(value: unknown, type: SchemaType): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return typeof value === 'number' && Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'null': return value === null;
    case 'array': return Array.isArray(value);
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

function rangeText(schema: ValueSchema): string {
  const { minimum: min, maximum: max } = schema;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function typeText(schema: ValueSchema): string {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  const names = types.map((t) => TYPE_NAMES[t] + ((t === 'number' || t === 'integer') ? rangeText(schema) : ''));
  return names.length ? names.join(' or ') : 'a value';
}

/** Every way `value` breaks `schema`, each naming where (`text: must be a string, got 42`). */
export function schemaProblems(value: unknown, schema: ValueSchema, path = ''): SchemaProblem[] {
  const at = (message: string): SchemaProblem[] => [{ path, message }];
  const types = schema.type === undefined ? undefined : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types && !types.some((t) => fitsType(value, t))) return at(`must be ${typeText(schema)}, got ${describeValue(value)}`);
  if (schema.enum && !schema.enum.includes(value)) return at(`must be one of ${schema.enum.map((v) => describeValue(v)).join(', ')}, got ${describeValue(value)}`);
  if (typeof value === 'number') {
    if ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum)) {
      return at(`must be ${typeText(schema)}, got ${describeValue(value)}`);
    }
  }
  if (typeof value === 'string' && schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
    const expected = schema.patternErrorMessage ? `be ${lowerFirst(schema.patternErrorMessage.replace(/\.$/, ''))}` : `match ${schema.pattern}`;
    return at(`must ${expected}, got ${describeValue(value)}`);
  }
  const join = (key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);
  if (Array.isArray(value) && schema.items) {
    return value.flatMap((item, i) => schemaProblems(item, schema.items!, join(i)));
  }
  if (fitsType(value, 'object') && (schema.properties || schema.required || schema.additionalProperties === false)) {
    const record = value as Record<string, unknown>;
    const known = Object.keys(schema.properties ?? {});
    const unknown = schema.additionalProperties === false
      ? Object.keys(record).filter((key) => !known.includes(key)).map((key) => ({ path: join(key), message: `is not expected here; expected ${known.length ? `one of ${known.join(', ')}` : 'nothing'}` }))
      : [];
    const missing = (schema.required ?? []).filter((key) => record[key] === undefined).map((key) => ({ path: join(key), message: 'is required' }));
    const wrong = Object.entries(schema.properties ?? {}).flatMap(([key, s]) => (record[key] === undefined ? [] : schemaProblems(record[key], s, join(key))));
    return [...unknown, ...missing, ...wrong];
  }
  return [];
}

/**
 * One line for all problems: `text: is required; importance: must be a number from 0 to 1, got 7`.
 * A problem with the value itself is named `root` when given (`input must be an object, got null`).
 */
export function describeProblems(problems: readonly SchemaProblem[], root?: string): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : root ? `${root} ${p.message}` : p.message)).join('; ');
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
