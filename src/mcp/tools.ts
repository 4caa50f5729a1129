import { errorCode, errorMessage } from '../core/errors';
import type { MemoryService, MemoryView, RecallResult } from '../core/memoryService';
import type { Writer } from '../core/provenance';
import { tokenSummary, type PeriodTotals } from '../core/usage';
import { TOOL_LIMITS, toolScope, toolScopes, type ForgetToolInput, type ListToolInput, type RecallToolInput, type StoreToolInput, type ToolInputs, type ToolName, type UpdateToolInput } from '../core/tools/contract';

type ToolResult = { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

/** Memory texts are data written by agents and people; they are returned as data, never as instructions. */
function recallText(results: RecallResult[]): string {
  if (results.length === 0) return 'No matching memories.';
  return results.map((r) => `- [${r.id}] (${r.scope}, ${r.category}, score ${r.score.toFixed(2)}) ${JSON.stringify(r.text)}`).join('\n');
}

function ok(structured: Record<string, unknown>, text: string): ToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/** A tool error the client shows to the model: the stable code and the one-line reason. */
export function toolError(err: unknown): ToolResult {
  return { isError: true, content: [{ type: 'text', text: `${errorCode(err)}: ${errorMessage(err)}` }] };
}

/** One handler per tool the contract offers MCP clients; each gets an input the contract has already checked. */
export type MemoryToolHandlers = { [N in ToolName]: (input: ToolInputs[N]) => Promise<ToolResult> };

/** A memory in a list answer: id, scope, category, who wrote it, and the start of its text (as data). */
function listLine(m: MemoryView): string {
  const by = m.writer ? `${m.writer.kind}${m.writer.client ? ` ${m.writer.client.name}` : ''}` : 'writer unknown';
  return `- [${m.id}] (${m.scope}, ${m.category}, ${by}${m.reviewed === false ? ', unreviewed' : ''}) ${JSON.stringify(m.text.slice(0, 200))}`;
}

/** `writer`: who this session's writes are by (the MCP client from its initialize clientInfo), asked at each call. */
export function memoryToolHandlers(service: MemoryService, writer: () => Partial<Writer> = () => ({ kind: 'mcp' })): MemoryToolHandlers {
  return {
    memory_store: async (a: StoreToolInput) => {
      const r = await service.store({ ...a, scope: toolScope(a.scope), writer: writer() });
      if (r.status === 'duplicate') {
        return ok({ stored: false, id: r.existing.id, duplicateOf: r.duplicateOf, similarity: r.similarity }, `Not stored: a near-duplicate already exists (${r.duplicateOf}, similarity ${r.similarity.toFixed(2)}). Use memory_update on it, or store again with force: true.`);
      }
      return ok({ stored: r.status === 'stored', id: r.id }, r.status === 'stored' ? `Stored as ${r.id}.` : `Already stored as ${r.id}.`);
    },
    memory_recall: async (a: RecallToolInput) => {
      const { query, scope, limit, ...options } = a;
      const r = await service.recall(query, { ...options, limit: limit ?? TOOL_LIMITS.recall.default, scopes: toolScopes(scope), caller: writer() });
      return ok({ results: r.results, mode: r.mode, notes: r.notes, timings: r.timings }, recallText(r.results));
    },
    memory_update: async (a: UpdateToolInput) => {
      const { id, scope, ...changes } = a;
      const m = await service.update(id, { ...changes, scope: toolScope(scope) }, { writer: writer() });
      return ok({ memory: m }, `Updated ${m.id} (rev ${m.rev}).`);
    },
    memory_forget: async (a: ForgetToolInput) => {
      if (a.id) {
        const r = await service.forget(a.id, { writer: writer() });
        return ok({ deleted: r.deleted ? 1 : 0, ids: r.deleted ? [r.id] : [] }, r.deleted ? `Forgot ${r.id}.` : `Nothing to forget for ${r.id}.`);
      }
      const r = await service.forgetByQuery(a.query!, { confirm: a.confirm === true, limit: a.limit ?? TOOL_LIMITS.forgetByQuery.default, writer: writer() });
      if (!r.confirmed) return ok({ deleted: 0, confirmed: false, candidates: r.candidates }, `Nothing deleted yet. These would be forgotten; call again with confirm: true:\n${recallText(r.candidates)}`);
      return ok({ deleted: r.deleted.length, ids: r.deleted, failed: r.failed }, `Forgot ${r.deleted.length} memories.`);
    },
    memory_list: async (a: ListToolInput) => {
      const { scope, limit, ...options } = a;
      const page = await service.list({ ...options, limit: limit ?? TOOL_LIMITS.list.default, scopes: toolScopes(scope) });
      return ok({ ...page }, page.items.length === 0 ? `No memories (total ${page.total}).` : page.items.map(listLine).join('\n') + `\n(${page.offset + 1}–${page.offset + page.items.length} of ${page.total})`);
    },
    memory_stats: async () => {
      const [s, t] = await Promise.all([service.stats(), tokenSummary(service.memoryStore.stateDir)]);
      const { lock, queue, byScope, byCategory, rows, legacy, diskBytes, deadLetters } = s;
      const period = ({ in: i, out, calls, estimatedCalls, byModel }: PeriodTotals) => ({ in: i, out, calls, estimatedCalls, byModel: byModel.map((m) => ({ purpose: m.purpose, provider: m.provider, ...(m.model ? { model: m.model } : {}), in: m.in, out: m.out, calls: m.calls })) });
      const tokens = { today: { day: t.today.day, ...period(t.today) }, last30Days: period(t.last30Days) };
      return ok({ rows, legacy, byScope, byCategory, diskBytes, deadLetters, lock: { held: lock.held, ...(lock.holder ? { holder: { pid: lock.holder.pid, host: lock.holder.host, label: lock.holder.label, since: lock.holder.since } } : {}) }, queue, tokens },
        `${rows} memories (${legacy} not yet upgraded) in ${Object.keys(byScope).length} scopes; ${deadLetters} dead letters; lock ${lock.held ? 'held' : 'free'}; model tokens today ${t.today.in + t.today.out} in ${t.today.calls} calls, last 30 days ${t.last30Days.in + t.last30Days.out}.`);
    },
  };
}
