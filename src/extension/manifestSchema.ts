/**
 * Checks values against what package.json declares for them: a setting's schema under
 * `contributes.configuration`, a Language Model tool's `inputSchema`. VS Code shows these schemas
 * (the Settings editor, the model's tool description) but enforces neither: settings.json may hold
 * `"lock.writeTimeoutMs": -5`, and `vscode.lm.invokeTool` hands a tool whatever the model sent. So
 * the declaration the person and the model see is the one checked here. No `vscode` import: unit-tested.
 */

import { describeProblems, schemaProblems, type ValueSchema } from '../core/tools/inputSchema';

// The checker lives in the core, where the MCP server checks its tool inputs with the same words.
export { describeProblems, describeValue, schemaProblems, type SchemaProblem, type SchemaType, type ValueSchema } from '../core/tools/inputSchema';

export interface CheckedSetting<T> {
  /** The value to use: the setting's own when it fits its schema, else the declared default. */
  value: T;
  /** Why the setting's value is not used (`must be an integer from 100 to 600000, got -5`). */
  problem?: string;
}

/**
 * A setting's value as the extension may use it: unset or valid, as it is; anything that breaks
 * its schema (a negative or huge deadline, a string for a number, an unknown enum value, a
 * malformed URL) is replaced by the default. Not clamped: -5 probably meant "no limit" rather than
 * the minimum, and a value of 10^12 ms would overflow Node's timers to 1 ms. One rule, easy to state.
 */
export function checkSetting<T>(raw: unknown, schema: ValueSchema, fallback: T): CheckedSetting<T> {
  if (raw === undefined) return { value: fallback };
  const problems = schemaProblems(raw, schema);
  if (problems.length === 0) return { value: raw as T };
  return { value: fallback, problem: describeProblems(problems) };
}
