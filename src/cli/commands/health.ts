import type { Command } from 'commander';
import { ValidationError } from '../../core/errors';
import { describeHolder } from '../../core/errors';
import { describeIndex, describeQuery, readVectorIndexSelfCheck } from '../../core/retrieval/vectorIndex';
import { tokenSummary, type PeriodTotals } from '../../core/usage';
import { parseStoreLocation } from '../../core/store/location';
import { initRemoteStore, resolveRemoteConnection } from '../../core/store/remoteStore';
import type { CliContext } from '../context';
import { formatBytes, table, truncate } from '../output';

type Run = (fn: (ctx: CliContext) => Promise<void>) => () => Promise<void>;

/** Commands that look after the store itself: stats, verify, lock-status, dead letters, maintenance. */
export function registerHealthCommands(program: Command, run: Run): void {
  program.command('stats')
    .description('counts per scope/category/tier, legacy rows, disk size, versions, fragments, indexes, dead letters, lock, model tokens today and in the last 30 days')
    .option('--price-per-1k <x>', 'price of 1000 tokens, to show the cost')
    .action((o: { pricePer1k?: string }) => run(async (ctx) => {
      const store = await ctx.openStore();
      const price = o.pricePer1k === undefined ? undefined : Number(o.pricePer1k);
      if (price !== undefined && (!Number.isFinite(price) || price < 0)) throw new ValidationError('--price-per-1k', `must be a number ≥ 0, got ${JSON.stringify(o.pricePer1k)}`);
      const [base, tokens] = await Promise.all([store.stats(), tokenSummary(store.stateDir, price ? { pricePer1k: price } : {})]);
      const selfCheck = readVectorIndexSelfCheck(store.stateDir);
      const stats = { ...base, tokens, ...(selfCheck ? { vectorIndex: { selfCheck } } : {}) };
      ctx.out.result(stats, (s) => [
        `store      ${s.dir}`,
        ...(s.remote ? [`remote     ${s.remote.endpoint} · commits coordinated by ${s.remote.coordination === 'dynamodb' ? `DynamoDB table ${s.remote.table}` : 'conditional PUT'} · ${s.remote.conflictsRetried} conflicts with other machines retried · local state ${s.remote.stateDir}`] : []),
        `memories   ${s.rows} (${s.legacy} legacy)   dim ${s.dim}   embedder ${s.embedder}   schema v${s.schemaVersion}`,
        `disk       ${formatBytes(s.diskBytes)}   versions ${s.versions}   fragments ${s.fragments} (${s.smallFragments} small)`,
        `indexes    ${s.indexes.map((i) => `${i.columns.join(',')} (${i.type})`).join(', ') || 'none yet'}`,
        ...(s.vectorIndex ? [`ann check  recall@10 ${s.vectorIndex.selfCheck.recallAt10} over ${s.vectorIndex.selfCheck.sample} rows · ${s.vectorIndex.selfCheck.dropped ? 'index dropped (brute force)' : `${describeIndex(s.vectorIndex.selfCheck.params.index)} · ${describeQuery(s.vectorIndex.selfCheck.params.query)}`}`] : []),
        `dead letters ${s.deadLetters}   lock ${s.lock.held ? `held by ${describeHolder(s.lock.holder)}` : 'free'}`,
        `tokens     today ${periodText(s.tokens.today)}   last 30 days ${periodText(s.tokens.last30Days)}`,
        ...(s.tokens.last30Days.byModel.length ? ['', table(s.tokens.last30Days.byModel.map((m) => [m.purpose, `${m.provider}${m.model ? `/${m.model}` : ''}`, String(m.in), String(m.out), String(m.calls), m.estimatedCalls ? `${m.estimatedCalls} estimated` : '']), ['30 days', 'model', 'tokens in', 'out', 'calls', ''])] : []),
        '',
        table(Object.entries(s.byScope).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, String(v)]), ['scope', 'memories']),
        '',
        table(Object.entries(s.byCategory).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, String(v)]), ['category', 'memories']),
      ].join('\n'));
    })());

  program.command('store-init')
    .argument('<uri>', 'the remote store, e.g. s3+ddb://bucket/path?ddbTableName=TABLE')
    .description('prepares a remote store: creates the DynamoDB commit table of an s3+ddb:// store when missing (keys base_uri S / version N, on-demand billing); for s3:// checks the endpoint honours conditional writes')
    .action((uri: string) => run(async (ctx) => {
      const location = parseStoreLocation(uri, 'uri');
      if (location.kind !== 'remote') throw new ValidationError('uri', `store-init prepares a remote store (s3+ddb://…); a folder store needs no preparation: ${location.label}`);
      const result = await initRemoteStore(location, resolveRemoteConnection(location));
      ctx.out.result(result, (r) => r.table ? `${r.created ? 'created' : 'already there:'} DynamoDB table ${r.table} for ${r.uri}` : `ok: ${r.uri} honours conditional writes`);
    })());

  program.command('verify')
    .description('checks every row: duplicate ids, bad vectors, unreadable metadata, torn rows (exit 1 when not ok)')
    .option('--repair', 'fix what is safe: duplicate ids keep the newest revision; locks of provably dead processes are removed')
    .action((options: { repair?: boolean }) => run(async (ctx) => {
      const store = await ctx.openStore();
      if (options.repair) {
        const repaired = await store.repair();
        ctx.out.result({ ...repaired.remaining, actions: repaired.actions }, (r) => [
          ...(r.actions.length ? r.actions.map((a) => `repaired: ${a.detail}`) : ['nothing needed repair']),
          r.ok ? `ok: ${r.rows} rows` : `still NOT OK: ${r.badVectors.length} bad vectors, ${r.badMetadata.length} unreadable metadata, ${r.duplicateIds.length} duplicate ids (left for a person: they may hold data)`,
        ].join('\n'));
        if (!repaired.remaining.ok) process.exitCode = 1;
        return;
      }
      const report = await store.verify();
      const same = (r: typeof report) => r.exactDuplicates.length ? [`same text under different ids (consolidate merges them): ${r.exactDuplicates.map((g) => g.join(' = ')).join('; ')}`] : [];
      ctx.out.result(report, (r) => r.ok
        ? [`ok: ${r.rows} rows, no duplicate ids, no bad vectors, no unreadable metadata`, ...same(r)].join('\n')
        : [`NOT OK (${r.rows} rows)`, ...same(r), `duplicate ids: ${r.duplicateIds.join(', ') || 'none'}`, `bad vectors: ${r.badVectors.join(', ') || 'none'}`,
          `unreadable metadata: ${r.badMetadata.join(', ') || 'none'}`, `torn rows: ${r.tornRows.length}`].join('\n'));
      if (!report.ok) process.exitCode = 1;
    })());

  program.command('lock-status')
    .description('who holds the store lock right now (no lock is taken)')
    .action(run(async (ctx) => {
      const store = await ctx.openStore();
      const status = await store.lock.status();
      const { token: _token, ...holder } = (status.holder ?? {}) as Record<string, unknown>;
      const value = status.held ? { held: true, ...(status.holder ? { holder } : {}), ...(status.stale !== undefined ? { stale: status.stale } : {}) } : { held: false };
      ctx.out.result(value, () => status.held ? `held by ${describeHolder(status.holder)}${status.stale ? ' — its process is gone; the next writer takes it over' : ''}` : 'free');
    }));

  program.command('optimize')
    .description('compacts fragments, updates indexes and prunes old versions (under the lock, like any write)')
    .action(run(async (ctx) => {
      const report = await (await ctx.openStore()).optimize('cli');
      ctx.out.result(report, (r) => r.skipped ? `not run: ${r.skipped}` : `optimized in ${r.ms} ms: fragments ${r.fragmentsRemoved} → ${r.fragmentsAdded}, ${r.versionsPruned} versions pruned${r.indexesCreated.length ? `, built ${r.indexesCreated.join(', ')}` : ''}`);
    }));

  const dlq = program.command('dlq').description('writes that could not be committed, kept for replay');
  dlq.command('list')
    .description('lists open dead letters')
    .action(run(async (ctx) => {
      const listing = await (await ctx.openStore()).deadLetters.list();
      const value = { open: listing.open.map((l) => ({ dlqId: l.dlqId, at: l.at, pid: l.pid, label: l.label, error: l.error })), resolved: listing.resolved, tornLines: listing.tornLines };
      ctx.out.result(value, (v) => v.open.length === 0 ? 'no open dead letters' : table(v.open.map((l) => [l.dlqId.slice(0, 8), new Date(l.at).toISOString(), l.label, truncate(l.error.message, 60)]), ['id', 'when', 'write', 'error']));
    }));
  dlq.command('replay')
    .description('replays open dead letters through the normal write path (idempotent inserts)')
    .action(run(async (ctx) => {
      const result = await (await ctx.openStore()).replayDeadLetters();
      ctx.out.result(result, (r) => `replayed ${r.replayed.length}, superseded ${r.superseded.length}, failed ${r.failed.length}${r.superseded.map((x) => `\n  ${x.dlqId}: superseded, ${x.ids.join(', ')} changed after it failed`).join('')}${r.failed.map((f) => `\n  ${f.dlqId}: ${f.reason}`).join('')}`);
      if (result.failed.length > 0) process.exitCode = 1;
    }));
}

function periodText(p: PeriodTotals): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return p.calls ? `${n(p.in)} in + ${n(p.out)} out in ${n(p.calls)} calls${p.cost !== undefined ? ` (cost ${p.cost})` : ''}${p.estimatedCalls ? `, ${n(p.estimatedCalls)} estimated` : ''}` : 'none';
}
