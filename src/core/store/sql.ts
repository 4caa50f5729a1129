import { ValidationError } from '../errors';

/**
 * SQL string literal for LanceDB (DataFusion) filters built from user text. Single quotes are
 * doubled; backslashes are literal in DataFusion strings. NUL cannot be represented in a filter, so
 * it is refused rather than silently truncating the literal.
 */
export function sqlString(value: string, field = 'value'): string {
  if (value.includes('\u0000')) throw new ValidationError(field, 'must not contain NUL characters');
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlInList(values: readonly string[], field = 'id'): string {
  return `(${values.map((v) => sqlString(v, field)).join(', ')})`;
}

/** LIKE pattern matching `prefix%` literally: %, _ and the escape char itself are escaped. */
export function sqlLikePrefix(prefix: string, field = 'value'): string {
  const escaped = prefix.replace(/[\\%_]/g, (c) => '\\' + c);
  return `${sqlString(escaped + '%', field)} ESCAPE '\\'`;
}
