import { randomUUID } from 'node:crypto';
import type { Table } from '@lancedb/lancedb';
import { HOST } from '../concurrency/ownerRecord';
import { BusyError, errorMessage, type LockHolderInfo } from '../errors';
import type { Logger } from '../log';
import { retryCommit, REMOTE_COMMIT_RETRY } from './commitRetry';
import { sqlString } from './sql';

/**
 * A job that must run once per *store*, not once per machine, on a remote store (an upgrade): the
 * job locks are files in this machine's state folder, which other machines cannot see
 * (docs/team-store.md#per-machine-jobs). The claim is a row `job:<name>` in the store's meta table,
 * taken and renewed by conditional merges (`target.json` must still be what was read), so of two
 * machines claiming at once exactly one wins; it expires `ttlMs` after its last renewal, so a
 * machine that died holding it does not block the store for longer than that.
 */
export interface StoreJobClaim {
  release(): Promise<void>;
}

interface ClaimRecord {
  token: string;
  host: string;
  pid: number;
  label: string;
  since: number;
  expiresAt: number;
}

export const STORE_JOB_CLAIM_TTL_MS = 60_000;

export async function claimStoreJob(table: Table, job: string, label: string, options: { ttlMs?: number; logger?: Logger; onLost?: (reason: string) => void } = {}): Promise<StoreJobClaim> {
  const ttlMs = options.ttlMs ?? STORE_JOB_CLAIM_TTL_MS;
  const key = `job:${job}`;
  const token = randomUUID();
  const since = Date.now();
  const read = async (): Promise<{ json: string; record: ClaimRecord } | undefined> => {
    const rows = await table.query().where(`key = ${sqlString(key)}`).limit(1).toArray();
    if (!rows.length) return undefined;
    const json = String(rows[0]!.json);
    try {
      return { json, record: JSON.parse(json) as ClaimRecord };
    } catch {
      return { json, record: { token: '', host: '?', pid: 0, label: 'unreadable claim', since: 0, expiresAt: 0 } };
    }
  };
  const write = async (previous: string | undefined): Promise<string> => {
    const json = JSON.stringify({ token, host: HOST, pid: process.pid, label, since, expiresAt: Date.now() + ttlMs } satisfies ClaimRecord);
    const merge = table.mergeInsert('key');
    await (previous === undefined ? merge.whenNotMatchedInsertAll() : merge.whenMatchedUpdateAll({ where: `target.json = ${sqlString(previous)}` }))
      .execute([{ key, json }]);
    return json;
  };
  const busy = (r: ClaimRecord) => {
    const holder: LockHolderInfo = { pid: r.pid, host: r.host, label: r.label, since: r.since };
    return new BusyError(`${/^[aeiou]/.test(job) ? 'An' : 'A'} ${job} is already running on this store, on another machine: pid ${r.pid} on ${r.host} (${r.label}), claimed until ${new Date(r.expiresAt).toISOString()}`, holder);
  };

  let mine: string | undefined;
  await retryCommit(`claim ${job}`, async () => {
    const current = await read();
    if (current && current.record.token !== token && current.record.expiresAt > Date.now()) throw busy(current.record);
    if (current?.record.token !== token) await write(current?.json);
    // Read back: of two claimants that both saw the same row, only one conditional merge matched.
    const after = await read();
    if (after?.record.token !== token) {
      if (after && after.record.expiresAt > Date.now()) throw busy(after.record);
      throw new Error('Retryable commit conflict: the job claim moved on');
    }
    mine = after.json;
  }, options.logger, undefined, REMOTE_COMMIT_RETRY);

  let released = false;
  let renewing: Promise<void> = Promise.resolve();
  const renew = () => {
    renewing = renewing.then(async () => {
      if (released) return;
      try {
        const before = mine!;
        const json = await write(before);
        const after = await read();
        if (after?.json === json) { mine = json; return; }
        options.onLost?.(`the ${job} claim was taken over by ${after ? `${after.record.host} pid ${after.record.pid}` : 'nobody'}`);
        released = true;
      } catch (err) {
        options.logger?.warn(`renewing the ${job} claim failed (retried at the next renewal): ${errorMessage(err)}`);
      }
    });
  };
  const timer = setInterval(renew, Math.max(1000, Math.floor(ttlMs / 3)));
  timer.unref?.();
  return {
    async release() {
      clearInterval(timer);
      await renewing;
      if (released) return;
      released = true;
      try {
        await retryCommit(`release ${job}`, () => table.delete(`key = ${sqlString(key)} AND json = ${sqlString(mine!)}`), options.logger, undefined, REMOTE_COMMIT_RETRY);
      } catch (err) {
        // The claim then expires by itself after ttlMs.
        options.logger?.warn(`releasing the ${job} claim failed (it expires in ${Math.round(ttlMs / 1000)} s): ${errorMessage(err)}`);
      }
    },
  };
}
