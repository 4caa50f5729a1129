/**
 * Who wrote a memory (docs/architecture.md#provenance). Every write through the service records a
 * `Writer` in the memory's metadata: `metadata.writer` names who wrote its current text, and
 * `metadata.history` keeps the last few changes. Review state (`metadata.reviewed`) lives beside
 * them. Pure: no I/O, so the CLI, the MCP server and the extension render the same words.
 */
import { hostname } from 'node:os';
import { ValidationError } from './errors';
import type { SmartMetadata } from './store/schema';
import { validateScope } from './store/validation';

/**
 * `person` is a person's own write in the editor (Store Selection, Edit, Forget, Keep): the issue's list
 * named none, and counting those as an agent's would hold a person's own words for review.
 */
export const WRITER_KINDS = ['lm-tool', 'participant', 'mcp', 'cli', 'import', 'upgrade', 'consolidate', 'person'] as const;
export type WriterKind = (typeof WRITER_KINDS)[number];

/**
 * Kinds whose writes an agent made without a person looking: with `requireApproval` they stay out
 * of other agents' recall until a person keeps them. Everything else (person, cli, import, upgrade,
 * consolidate) was started by a person or only reworks what is already there.
 */
export const AGENT_WRITER_KINDS: readonly WriterKind[] = ['lm-tool', 'participant', 'mcp'];

export interface WriterClient {
  name: string;
  version?: string;
}

export interface Writer {
  kind: WriterKind;
  /** The MCP client (from its initialize `clientInfo`), the CLI, or the chat model / participant in VS Code. */
  client?: WriterClient;
  /** The workspace scope the writer worked in, when it has one. */
  scope?: string;
  host: string;
  pid: number;
  /** Epoch milliseconds. */
  at: number;
}

/** One change of a memory: who, when, and which fields (column names, or `metadata` / a metadata key). */
export interface HistoryEntry {
  writer: Writer;
  at: number;
  fields: string[];
}

/** A person's "keep": the memory may reach every agent's recall. */
export interface Review {
  at: number;
  by: Writer;
}

/** How many changes `metadata.history` keeps, newest last. */
export const HISTORY_LIMIT = 5;

/** Metadata keys only the service writes; a caller's `metadata` may not set them (they would forge provenance). */
export const PROVENANCE_KEYS = ['writer', 'history', 'reviewed'] as const;

/** The kind a service's `source` option stands for, when a caller names no writer. */
export function kindForSource(source: string | undefined): WriterKind | undefined {
  switch (source) {
    case 'mcp': return 'mcp';
    case 'cli': return 'cli';
    case 'vscode': return 'lm-tool';
    default: return undefined;
  }
}

const MAX_NAME = 200;

function checkString(value: unknown, field: string, max = MAX_NAME): string {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${value === null ? 'null' : typeof value}`);
  if (value.trim().length === 0) throw new ValidationError(field, 'must not be empty');
  if (value.length > max) throw new ValidationError(field, `is ${value.length} characters; the limit is ${max}`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new ValidationError(field, 'must not contain control characters');
  return value;
}

/**
 * A complete writer from what the caller gave (`given`, field by field, wins) over the service's
 * defaults, with host, pid and time filled in. Undefined when no kind is known: such a write records
 * no writer, like a memory from before provenance.
 * @throws ValidationError naming `writer.<field>`.
 */
export function resolveWriter(given: Partial<Writer> | undefined, defaults: Partial<Writer> = {}, now = Date.now()): Writer | undefined {
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) throw new ValidationError('writer', 'must be an object, e.g. { kind: "mcp", client: { name: "claude-code" } }');
  const merged: Partial<Writer> = { ...defaults };
  for (const [key, value] of Object.entries(given ?? {})) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  if (merged.kind === undefined) return undefined;
  if (!(WRITER_KINDS as readonly string[]).includes(merged.kind)) throw new ValidationError('writer.kind', `must be one of ${WRITER_KINDS.join(', ')}, got ${JSON.stringify(merged.kind)}`);
  const writer: Writer = { kind: merged.kind, host: merged.host ?? hostname(), pid: merged.pid ?? process.pid, at: merged.at ?? now };
  if (merged.client !== undefined) {
    if (!merged.client || typeof merged.client !== 'object') throw new ValidationError('writer.client', 'must be an object with a name');
    writer.client = { name: checkString(merged.client.name, 'writer.client.name') };
    if (merged.client.version !== undefined) writer.client.version = checkString(merged.client.version, 'writer.client.version', 100);
  }
  if (merged.scope !== undefined) writer.scope = validateScope(merged.scope, 'writer.scope');
  checkString(writer.host, 'writer.host');
  if (!Number.isInteger(writer.pid) || writer.pid < 0) throw new ValidationError('writer.pid', `must be a non-negative integer, got ${String(writer.pid)}`);
  if (typeof writer.at !== 'number' || !Number.isFinite(writer.at) || writer.at < 0) throw new ValidationError('writer.at', `must be epoch milliseconds, got ${String(writer.at)}`);
  // Field order fixed, so the same writer always serializes the same way.
  return { kind: writer.kind, ...(writer.client ? { client: writer.client } : {}), ...(writer.scope ? { scope: writer.scope } : {}), host: writer.host, pid: writer.pid, at: writer.at };
}

function isWriter(value: unknown): value is Writer {
  if (!value || typeof value !== 'object') return false;
  const w = value as Partial<Writer>;
  return typeof w.kind === 'string' && (WRITER_KINDS as readonly string[]).includes(w.kind);
}

/** The recorded writer of a memory's current text; undefined for memories from before provenance (or damaged metadata). */
export function writerOf(metadata: SmartMetadata): Writer | undefined {
  return isWriter(metadata.writer) ? metadata.writer : undefined;
}

/** The recorded changes, oldest first; malformed entries are left out. */
export function historyOf(metadata: SmartMetadata): HistoryEntry[] {
  if (!Array.isArray(metadata.history)) return [];
  return metadata.history.filter((e): e is HistoryEntry => !!e && typeof e === 'object' && isWriter((e as HistoryEntry).writer) && Array.isArray((e as HistoryEntry).fields));
}

export function reviewOf(metadata: SmartMetadata): Review | undefined {
  const r = metadata.reviewed as Review | undefined;
  return r && typeof r === 'object' && typeof r.at === 'number' ? r : undefined;
}

/**
 * False only for what waits for a person: an agent's memory that nobody kept. A person's writes
 * (cli, import) count as reviewed, and so do memories from before provenance, since nobody can tell
 * which agent wrote them.
 */
export function isReviewed(metadata: SmartMetadata): boolean {
  const writer = writerOf(metadata);
  if (!writer || !AGENT_WRITER_KINDS.includes(writer.kind)) return true;
  return reviewOf(metadata) !== undefined;
}

/** `history` with `entry` appended, at most HISTORY_LIMIT entries, newest last. */
export function appendHistory(history: unknown, entry: HistoryEntry): HistoryEntry[] {
  const prior = Array.isArray(history) ? (history as HistoryEntry[]) : [];
  return [...prior, entry].slice(-HISTORY_LIMIT);
}

/** Whether `filter` (a kind or a client name, case-insensitive; `unknown` = no recorded writer) names this memory's writer. */
export function writerMatches(writer: Writer | undefined, filter: string): boolean {
  const f = filter.toLowerCase();
  if (!writer) return f === 'unknown';
  return writer.kind === f || writer.client?.name.toLowerCase() === f;
}

/**
 * Whether a recall by `caller` may see a memory while approval is required: reviewed ones always;
 * an agent's unreviewed one only by a person (a caller that is no agent: the CLI) and by its own
 * writer — the same MCP client (by name), or VS Code's own LM tools or participant (the same kind).
 * An unknown caller sees only reviewed memories.
 */
export function visibleUnderApproval(metadata: SmartMetadata, caller: Pick<Writer, 'kind' | 'client'> | undefined): boolean {
  if (isReviewed(metadata)) return true;
  if (!caller) return false;
  if (!AGENT_WRITER_KINDS.includes(caller.kind)) return true;
  const writer = writerOf(metadata)!;
  if (caller.kind !== writer.kind) return false;
  if (writer.kind === 'mcp') return !!caller.client?.name && caller.client.name === writer.client?.name;
  return true;
}

/** One line for a person: `mcp: claude-code 1.2.0 (pid 4711 on box, 2025-01-02T03:04:05.000Z)`, or the legacy source. */
export function describeWriter(metadata: SmartMetadata): string {
  const w = writerOf(metadata);
  if (!w) return typeof metadata.source === 'string' ? `unknown (source: ${metadata.source})` : 'unknown';
  const client = w.client ? `: ${w.client.name}${w.client.version ? ` ${w.client.version}` : ''}` : '';
  return `${w.kind}${client} (pid ${w.pid} on ${w.host}${w.scope ? `, ${w.scope}` : ''}, ${new Date(w.at).toISOString()})`;
}

/**
 * The variable that turns `requireApproval` on in an MCP server: the window that defines the server
 * passes its `memoryLane.review.requireApproval` setting this way, so agents coming in through MCP
 * are held to the same rule as the window's own tools.
 */
export const REQUIRE_APPROVAL_ENV = 'MEMORY_LANE_REQUIRE_APPROVAL';

/** `1`/`true` on, `0`/`false`/unset off. @throws ValidationError naming the variable for anything else. */
export function requireApprovalFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const value = env[REQUIRE_APPROVAL_ENV]?.trim().toLowerCase();
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new ValidationError(REQUIRE_APPROVAL_ENV, `must be 1, true, 0 or false, got ${JSON.stringify(env[REQUIRE_APPROVAL_ENV])}`);
}
