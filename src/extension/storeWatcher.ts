import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { LOCK_DIR, LOCK_OWNER, StoreLock } from '../core/concurrency/storeLock';
import { errorMessage, type LockHolderInfo } from '../core/errors';
import type { Logger } from '../core/log';
import { MEMORIES_TABLE } from '../core/store/schema';
import { upgradeStatus } from '../core/upgrade';
import { Disposable } from './disposable';
import { Throttle } from './throttle';

/** The store lock and the upgrade job as any process sees them (read from the files beside the store). */
export interface StoreLockView {
  held: boolean;
  holder?: LockHolderInfo;
  /** The holder's pid is gone (same host only): the next writer takes the lock over. */
  stale?: boolean;
  upgrade: { running: boolean; holder?: LockHolderInfo };
}

const IDLE: StoreLockView = { held: false, upgrade: { running: false } };

/**
 * Notices what OTHER processes do to the store without polling it: a non-recursive `fs.watch` of
 * the store folder sees the lock owner record and lock folder come and go (another window, the CLI
 * or an MCP server taking the lock) and the upgrade job's lock files; a second watch of the table's
 * `_versions` folder sees every commit (a new manifest per LanceDB version). Bursts are coalesced;
 * only then is the owner record read. Until the store folder exists, its parent is watched for it.
 */
export class StoreWatcher extends Disposable {
  private readonly _onDidChangeLock = this._register(new vscode.EventEmitter<StoreLockView>());
  /** The lock holder or the upgrade runner changed (in any process). */
  readonly onDidChangeLock = this._onDidChangeLock.event;
  private readonly _onDidCommit = this._register(new vscode.EventEmitter<void>());
  /** Some process committed to the table (throttled). */
  readonly onDidCommit = this._onDidCommit.event;

  private watchers: FSWatcher[] = [];
  private lock: StoreLock | undefined;
  private _state: StoreLockView = IDLE;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private readonly lockThrottle = this._register(new Throttle(() => void this.readLock(), 50));
  private readonly commitThrottle = this._register(new Throttle(() => this._onDidCommit.fire(), 500));

  constructor(private dir: string, private readonly log: Logger) {
    super();
    this.start();
    this._register({ dispose: () => this.stop() });
  }

  /** The last state read (IDLE until the first read). */
  get state(): StoreLockView {
    return this._state;
  }

  /** Points the watcher at another store folder (the store path setting changed). */
  retarget(dir: string): void {
    if (dir === this.dir) return;
    this.dir = dir;
    this.stop();
    this._state = IDLE;
    this.start();
  }

  /** Watches again from scratch, e.g. after this process created the store folder. */
  refresh(): void {
    this.stop();
    this.start();
  }

  private start(): void {
    this.lock = new StoreLock(this.dir);
    if (!existsSync(this.dir)) {
      // Wait for the folder to appear (the first write of any process creates it).
      this.tryWatch(dirname(this.dir), (name) => {
        if (name === basename(this.dir) && existsSync(this.dir)) this.refresh();
      });
      return;
    }
    const lockFiles = new Set([LOCK_OWNER, LOCK_DIR, 'upgrade.job.lock', 'upgrade.job.owner.json']);
    this.tryWatch(this.dir, (name) => {
      if (!name || lockFiles.has(name) || name.startsWith(`${LOCK_OWNER}.`)) this.lockThrottle.schedule();
      if (name === `${MEMORIES_TABLE}.lance`) this.watchVersions();
    });
    this.watchVersions();
    this.lockThrottle.schedule();
  }

  private versionsWatched = false;

  private watchVersions(): void {
    if (this.versionsWatched) return;
    const versions = join(this.dir, `${MEMORIES_TABLE}.lance`, '_versions');
    if (!existsSync(versions)) return;
    this.versionsWatched = this.tryWatch(versions, () => this.commitThrottle.schedule());
  }

  private tryWatch(path: string, onEvent: (name: string | null) => void): boolean {
    try {
      const w = watch(path, { persistent: false }, (_event, name) => onEvent(name ? String(name) : null));
      w.on('error', (err) => {
        this.log.debug(`[lock] watching ${path} stopped: ${errorMessage(err)}`);
        w.close();
      });
      this.watchers.push(w);
      return true;
    } catch (err) {
      this.log.debug(`[lock] cannot watch ${path}: ${errorMessage(err)}`);
      return false;
    }
  }

  private stop(): void {
    for (const w of this.watchers.splice(0)) w.close();
    this.versionsWatched = false;
  }

  /** Reads the owner records once per burst of file events (never on a timer). */
  private async readLock(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        const lock = this.lock;
        if (!lock) return;
        try {
          const [status, upgrade] = await Promise.all([lock.status(), upgradeStatus({ dir: this.dir })]);
          const next: StoreLockView = {
            held: status.held,
            ...(status.holder ? { holder: status.holder } : {}),
            ...(status.stale !== undefined ? { stale: status.stale } : {}),
            upgrade: { running: upgrade.running, ...(upgrade.holder ? { holder: upgrade.holder } : {}) },
          };
          if (JSON.stringify(next) !== JSON.stringify(this._state)) {
            this._state = next;
            this._onDidChangeLock.fire(next);
          }
        } catch (err) {
          this.log.debug(`[lock] reading the lock status failed: ${errorMessage(err)}`);
        }
      } while (this.readAgain);
    })().finally(() => { this.reading = undefined; });
    return this.reading;
  }
}
