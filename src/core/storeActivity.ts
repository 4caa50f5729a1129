import { join } from 'node:path';
import { ExclusiveJobLock } from './concurrency/jobLock';
import { StoreLock } from './concurrency/storeLock';
import type { LockHolderInfo } from './errors';
import { watchFolder } from './folderWatch';
import type { Disposable } from './lifecycle';
import { nullLogger, type Logger } from './log';
import { MEMORIES_TABLE } from './store/schema';
import { CONSOLIDATE_JOB } from './upgrade/consolidate';
import { UPGRADE_JOB } from './upgrade/upgradeRun';

/** The store lock and the upgrade job as any process sees them, read from the files beside the store. */
export interface StoreLockView {
  held: boolean;
  holder?: LockHolderInfo;
  /** The holder's pid is gone (same host only): the next writer takes the lock over. */
  stale?: boolean;
  upgrade: { running: boolean; holder?: LockHolderInfo };
  /** A consolidation writing (its job lock; planning takes none). */
  consolidate?: { running: boolean; holder?: LockHolderInfo };
}

/**
 * What other processes do to a store, noticed without polling it: the store lock and the upgrade
 * job changing hands (their lock files), and commits (a new manifest in the table's `_versions`
 * folder per LanceDB version). Events come in bursts; callers coalesce them and then read `lockView()`.
 * Works before the store folder exists: watching starts once it appears.
 */
export class StoreActivity implements Disposable {
  private readonly lock: StoreLock;
  private readonly upgrade: ExclusiveJobLock;
  private readonly consolidate: ExclusiveJobLock;
  private readonly watches: Disposable[] = [];

  constructor(readonly dir: string, handlers: { onLockChange(): void; onCommit(): void }, log: Logger = nullLogger) {
    this.lock = new StoreLock(dir);
    this.upgrade = new ExclusiveJobLock(dir, UPGRADE_JOB);
    this.consolidate = new ExclusiveJobLock(dir, CONSOLIDATE_JOB);
    this.watches.push(
      this.lock.watch(handlers.onLockChange),
      this.upgrade.watch(handlers.onLockChange),
      this.consolidate.watch(handlers.onLockChange),
      watchFolder(join(dir, `${MEMORIES_TABLE}.lance`, '_versions'), () => handlers.onCommit(), log),
    );
  }

  async lockView(): Promise<StoreLockView> {
    const [status, upgrade, consolidate] = await Promise.all([this.lock.status(), this.upgrade.status(), this.consolidate.status()]);
    return {
      held: status.held,
      ...(status.holder ? { holder: status.holder } : {}),
      ...(status.stale !== undefined ? { stale: status.stale } : {}),
      upgrade: { running: upgrade.running, ...(upgrade.holder ? { holder: upgrade.holder } : {}) },
      ...(consolidate.running ? { consolidate: { running: true, ...(consolidate.holder ? { holder: consolidate.holder } : {}) } } : {}),
    };
  }

  dispose(): void {
    for (const w of this.watches.splice(0)) w.dispose();
    this.lock.dispose();
  }
}
