import { Command, InvalidArgumentError, Option } from 'commander';
import type { MemoryView, RecallResult } from '../../core/memoryService';
import { describeWriter } from '../../core/provenance';
import type { CliContext } from '../context';
import { table, truncate } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

function number(name: string, min: number, max: number, integer = false) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
}
const collect = (value: string, previous: string[] = []) => [...previous, value];

function describe(m: MemoryView): string {
  return [
    `id          ${m.id}`,
    `scope       ${m.scope}    category ${m.category}    importance ${m.importance}    rev ${m.rev}${m.legacy ? '    (legacy)' : ''}`,
    `created     ${new Date(m.created_at).toISOString()}    updated ${new Date(m.updated_at).toISOString()}`,
    `writer      ${describeWriter(m.metadata)}${m.reviewed === false ? '    (unreviewed)' : ''}`,
    ...(m.history ?? []).map((h, i) => `${i === 0 ? 'history     ' : '            '}${new Date(h.at).toISOString()}  ${h.writer.kind}${h.writer.client ? ` ${h.writer.client.name}` : ''}: ${h.fields.join(', ') || '(no fields)'}`),
    ...(m.metadata.l0_abstract ? [`abstract    ${m.metadata.l0_abstract}`] : []),
    '',
    m.text,
  ].join('\n');
}

/** The writer column of `list`: kind and client, `?` when no writer was recorded. */
function writerCell(m: MemoryView): string {
  if (!m.writer) return '?';
  return truncate(`${m.writer.kind}${m.writer.client && m.writer.kind !== 'cli' ? ` ${m.writer.client.name}` : ''}`, 24);
}

function resultsTable(results: RecallResult[]): string {
  if (results.length === 0) return 'no matching memories';
  return table(results.map((r) => [r.score.toFixed(3), r.id.slice(0, 12), r.scope, r.why, truncate(r.text, 80)]), ['score', 'id', 'scope', 'why', 'memory']);
}

/** store, get, recall, update, forget, list: what agents do, from a terminal. */
export function registerMemoryCommands(program: Command, run: Run): void {
  program.command('store')
    .description('stores a memory (embedded locally unless MEMORY_LANE_EMBEDDING_BASE_URL is set)')
    .requiredOption('--text <text>', 'the memory, verbatim')
    .option('--id <id>', 'your own id: storing the same id and text again is a no-op')
    .option('--scope <scope>', 'global (default) or <kind>:<name>, e.g. project:api')
    .option('--category <category>', 'profile, preferences, entities, events, cases, patterns')
    .option('--importance <x>', '0..1 (default 0.5)', number('--importance', 0, 1))
    .option('--force', 'store even when a near-duplicate exists in the same scope')
    .option('--context <text>', 'what the memory came after (e.g. the message it answers): indexed for search, never returned as the memory')
    .action((o: { text: string; id?: string; scope?: string; category?: string; importance?: number; force?: boolean; context?: string }) => run(async (ctx) => {
      const service = await ctx.openService({ create: true });
      const r = await service.store({ text: o.text, id: o.id, scope: o.scope ?? 'global', category: o.category, importance: o.importance, force: o.force, context: o.context });
      const value = r.status === 'duplicate' ? { id: r.existing.id, duplicateOf: r.duplicateOf, similarity: r.similarity, stored: false } : { id: r.id, stored: r.status === 'stored', ...(r.status === 'exists' ? { existed: true } : {}) };
      ctx.out.result(value, () => r.status === 'duplicate' ? `not stored: near-duplicate of ${r.duplicateOf} (similarity ${r.similarity.toFixed(3)}); use --force to store anyway` : `${r.status === 'exists' ? 'already stored' : 'stored'} ${r.id}`);
    })());

  program.command('get')
    .argument('<id>', 'id or a unique prefix of at least 8 characters')
    .description('shows one memory with its metadata')
    .action((id: string) => run(async (ctx) => {
      const m = await (await ctx.openService()).get(id);
      ctx.out.result(m, describe);
    })());

  program.command('recall')
    .argument('<query...>', 'what to remember')
    .description('hybrid (vector + full-text) search, ranked with recency and importance')
    .option('--limit <n>', 'results (1..50, default 5)', number('--limit', 1, 50, true))
    .option('--scope <scope>', 'search this scope (repeatable; default: global)', collect)
    .option('--category <category>', 'only this category (repeatable)', collect)
    .option('--min-score <x>', 'drop results below this score (0..1)', number('--min-score', 0, 1))
    .option('--full', 'full texts instead of upgraded abstracts')
    .addOption(new Option('--mode <mode>', 'run one retriever alone (diagnostics)').choices(['hybrid', 'vector', 'fts']))
    .action((words: string[], o: { limit?: number; scope?: string[]; category?: string[]; minScore?: number; full?: boolean; mode?: 'hybrid' | 'vector' | 'fts' }) => run(async (ctx) => {
      const service = await ctx.openService();
      const r = await service.recall(words.join(' '), { limit: o.limit, scopes: o.scope, category: o.category, minScore: o.minScore, full: o.full, mode: o.mode });
      ctx.out.result(r, (v) => resultsTable(v.results) + (v.notes.length ? `\n(${v.notes.join('; ')})` : ''));
    })());

  program.command('update')
    .argument('<id>', 'id or a unique prefix of at least 8 characters')
    .description('changes a memory (new text is re-embedded; its abstract is redone by the next upgrade)')
    .option('--text <text>', 'new text')
    .option('--importance <x>', '0..1', number('--importance', 0, 1))
    .option('--category <category>', 'new category')
    .option('--scope <scope>', 'move to another scope')
    .action((id: string, o: { text?: string; importance?: number; category?: string; scope?: string }) => run(async (ctx) => {
      if (o.text === undefined && o.importance === undefined && o.category === undefined && o.scope === undefined) {
        throw new InvalidArgumentError('nothing to change: give --text, --importance, --category or --scope');
      }
      const m = await (await ctx.openService()).update(id, { text: o.text, importance: o.importance, category: o.category, scope: o.scope });
      ctx.out.result(m, describe);
    })());

  program.command('forget')
    .argument('[id]', 'id or a unique prefix of at least 8 characters')
    .description('deletes a memory by id, or the memories matching --query (needs --yes)')
    .option('--query <query>', 'find memories to delete by search')
    .option('--scope <scope>', 'with --query: only this scope (repeatable)', collect)
    .option('--limit <n>', 'with --query: at most this many (default 10)', number('--limit', 1, 100, true))
    .option('--yes', 'with --query: really delete (without it, the candidates are listed)')
    .action((id: string | undefined, o: { query?: string; scope?: string[]; limit?: number; yes?: boolean }) => run(async (ctx) => {
      if (!id === !o.query) throw new InvalidArgumentError('give either an id or --query');
      const service = await ctx.openService();
      if (id) {
        const r = await service.forget(id);
        ctx.out.result({ deleted: r.deleted ? 1 : 0, ids: r.deleted ? [r.id] : [] }, () => r.deleted ? `forgot ${r.id}` : `nothing to forget (${r.id})`);
        return;
      }
      const r = await service.forgetByQuery(o.query!, { confirm: !!o.yes, scopes: o.scope, limit: o.limit });
      if (!r.confirmed) {
        ctx.out.result({ deleted: 0, confirmed: false, candidates: r.candidates.map((c) => ({ id: c.id, text: c.text, score: c.score })) },
          () => `${resultsTable(r.candidates)}\n\nnothing deleted: run again with --yes to delete these ${r.candidates.length}`);
        return;
      }
      ctx.out.result({ deleted: r.deleted.length, ids: r.deleted, failed: r.failed }, () => `forgot ${r.deleted.length}${r.failed.length ? `, ${r.failed.length} failed` : ''}`);
      if (r.failed.length) process.exitCode = 1;
    })());

  program.command('keep')
    .argument('<ids...>', 'exact memory ids')
    .description('marks agents\' memories reviewed: with approval required, they then reach every agent\'s recall')
    .action((ids: string[]) => run(async (ctx) => {
      const results = await (await ctx.openService()).keep(ids);
      ctx.out.result({ results }, (v) => v.results.map((r) => `${r.status === 'kept' ? 'kept' : r.status === 'already' ? 'needs no review' : 'not found'} ${r.id}`).join('\n'));
      if (results.some((r) => r.status === 'missing')) process.exitCode = 1;
    })());

  program.command('list')
    .description('lists memories, newest first')
    .option('--scope <scope>', 'only this scope (repeatable)', collect)
    .option('--category <category>', 'only this category (repeatable)', collect)
    .option('--legacy', 'only memories not yet upgraded')
    .option('--writer <kind|client>', 'only memories written by this kind (lm-tool, participant, mcp, cli, import, upgrade, consolidate) or client name; unknown: no recorded writer')
    .option('--unreviewed', 'only agents\' memories no person has kept yet (see keep)')
    .option('--limit <n>', '1..500 (default 50)', number('--limit', 1, 500, true))
    .option('--offset <n>', 'skip this many', number('--offset', 0, Number.MAX_SAFE_INTEGER, true))
    .addOption(new Option('--sort <key>', 'order by').choices(['updated', 'created', 'importance', 'injected']))
    .action((o: { scope?: string[]; category?: string[]; legacy?: boolean; writer?: string; unreviewed?: boolean; limit?: number; offset?: number; sort?: 'updated' | 'created' | 'importance' | 'injected' }) => run(async (ctx) => {
      const page = await (await ctx.openService()).list({ scopes: o.scope, category: o.category, ...(o.legacy ? { legacy: true } : {}), ...(o.writer !== undefined ? { writer: o.writer } : {}), ...(o.unreviewed ? { reviewed: false } : {}), limit: o.limit, offset: o.offset, sort: o.sort });
      ctx.out.result(page, (p) => p.items.length === 0 ? `no memories (total ${p.total})`
        : `${table(p.items.map((m) => [m.id.slice(0, 12), m.scope, m.category, m.legacy ? 'legacy' : 'smart', writerCell(m), truncate(m.text, 60)]), ['id', 'scope', 'category', 'state', 'writer', 'memory'])}\n\n${p.offset + 1}–${p.offset + p.items.length} of ${p.total}`);
    })());
}
