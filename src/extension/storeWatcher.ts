import * as vscode from 'vscode';
import { errorMessage } from '../core/errors';
import { componentLogger, type Logger } from '../core/log';
import { StoreActivity, type StoreLockView } from '../core/storeActivity';
import { Disposable } from './disposable';
import { Throttle } from './throttle';

export type { StoreLockView };

const IDLE: StoreLockView = { held: false, upgrade: { running: false } };

/**
 * The window's view of what OTHER processes do to the store (another window, the CLI, an MCP server
 * taking the lock; an upgrade; commits), from the core's `StoreActivity` watches: no polling. Bursts
 * of file events are coalesced; only then are the owner records read.
 */
export class StoreWatcher extends Disposable {
  private readonly _onDidChangeLock = this._register(new vscode.EventEmitter<StoreLockView>());
  /** The lock holder or the upgrade runner changed (in any process). */
  readonly onDidChangeLock = this._onDidChangeLock.event;
  private readonly _onDidCommit = this._register(new vscode.EventEmitter<void>());
  /** Some process committed to the table (throttled). */
  readonly onDidCommit = this._onDidCommit.event;

  private activity: StoreActivity | undefined;
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
    this.activity = new StoreActivity(this.dir, {
      onLockChange: () => this.lockThrottle.schedule(),
      onCommit: () => this.commitThrottle.schedule(),
    }, componentLogger(this.log, 'lock'));
    this.lockThrottle.schedule();
  }

  private stop(): void {
    this.activity?.dispose();
    this.activity = undefined;
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
        const activity = this.activity;
        if (!activity) return;
        try {
          const next = await activity.lockView();
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
