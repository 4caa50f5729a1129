/**
 * package.json's `contributes.languageModelTools` as the tool contract makes it. VS Code reads tool
 * declarations only from the manifest, so the section is generated (scripts/generate-manifest-tools.mjs)
 * and `npm test` runs that script with `--check`, which fails on any difference.
 */
import { toolDescription, toolInputSchema, toolsFor } from './contract';

export interface ManifestTool {
  name: string;
  displayName: string;
  toolReferenceName: string;
  canBeReferencedInPrompt: boolean;
  icon: string;
  tags: string[];
  userDescription: string;
  modelDescription: string;
  inputSchema: unknown;
}

const TAGS = ['memory', 'memory-lane'];

/** The section's entries, in the contract's order (key order as written to package.json). */
export function manifestTools(): ManifestTool[] {
  return toolsFor('lm').map((tool) => {
    if (!tool.vscode) throw new Error(`${tool.name}: a Language Model tool needs its VS Code fields (displayName, toolReferenceName, icon, userDescription)`);
    const { displayName, toolReferenceName, icon, userDescription } = tool.vscode;
    return {
      name: tool.name,
      displayName,
      toolReferenceName,
      canBeReferencedInPrompt: true,
      icon,
      tags: TAGS,
      userDescription,
      modelDescription: toolDescription(tool, 'lm'),
      inputSchema: toolInputSchema(tool, 'lm'),
    };
  });
}

/** Where `actual` (a manifest's `languageModelTools`) differs from the contract, one line per difference, by path. */
export function manifestDrift(actual: unknown): string[] {
  const drift: string[] = [];
  compare(actual, manifestTools(), 'languageModelTools', drift);
  return drift;
}

function compare(actual: unknown, expected: unknown, path: string, out: string[]): void {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    // Tools by name, so a missing tool is reported as one line rather than a shift of every later one.
    const named = (list: unknown[]) => list.every((x) => typeof (x as { name?: unknown })?.name === 'string');
    if (named(expected) && named(actual)) {
      const key = (x: unknown) => (x as { name: string }).name;
      for (const e of expected) {
        const a = actual.find((x) => key(x) === key(e));
        if (a === undefined) out.push(`${path}: ${key(e)} is missing`);
        else compare(a, e, `${path}[${key(e)}]`, out);
      }
      for (const a of actual) if (!expected.some((e) => key(e) === key(a))) out.push(`${path}: ${key(a)} is not in the contract`);
      const order = (list: unknown[]) => list.map(key).filter((n) => expected.some((e) => key(e) === n) && actual.some((x) => key(x) === n)).join(',');
      if (order(actual) !== order(expected)) out.push(`${path}: the order is ${order(actual)}, the contract's ${order(expected)}`);
      return;
    }
    if (JSON.stringify(actual) !== JSON.stringify(expected)) out.push(`${path}: package.json has ${JSON.stringify(actual)}, the contract ${JSON.stringify(expected)}`);
    return;
  }
  if (isObject(expected) && isObject(actual)) {
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) compare(actual[key], expected[key], `${path}.${key}`, out);
    return;
  }
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    out.push(`${path}: package.json has ${actual === undefined ? 'nothing' : JSON.stringify(actual)}, the contract ${expected === undefined ? 'nothing' : JSON.stringify(expected)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
