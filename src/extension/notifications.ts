import * as vscode from 'vscode';
import { BusyError, describeHolder, errorCode, errorMessage } from '../core/errors';
import type { Logger } from '../core/log';
import { Commands } from './ids';

const SHOW_LOGS = 'Show Logs';
const SHOW_LOCK_MONITOR = 'Show Lock Monitor';
const OPEN_SETTINGS = 'Open Settings';
const SET_API_KEY = 'Set API Key';

/** What a person can do about an error, by its stable code (src/core/errors.ts). */
function actionsFor(code: string): string[] {
  switch (code) {
    case 'E_LOCK_TIMEOUT':
    case 'E_BUSY':
      return [SHOW_LOCK_MONITOR, SHOW_LOGS];
    case 'E_EMBED_AUTH':
      return [SET_API_KEY, SHOW_LOGS];
    case 'E_EMBED_MODEL':
    case 'E_EMBEDDING_MODEL':
    case 'E_EMBED_REQUEST':
    case 'E_EMBED_TIMEOUT':
    case 'E_EMBEDDER_MISMATCH':
    case 'E_DIMENSION':
    case 'E_STORE_UNAVAILABLE':
    case 'E_STORE_VERSION':
    case 'E_STORE_META':
      return [OPEN_SETTINGS, SHOW_LOGS];
    default:
      return [SHOW_LOGS];
  }
}

/**
 * Reports a failure the way the extension always does: logged with its code, a notification that
 * says what failed and why (the core's messages name the holder, the field, the dimension…) and
 * the actions that help ("Show Lock Monitor" for a lock timeout). Cancellations are not errors.
 * Not awaited by callers: the promise settles when the person dismisses the notification.
 */
export function reportError(what: string, err: unknown, log: Logger): void {
  const code = errorCode(err);
  if (code === 'E_CANCELLED' || err instanceof vscode.CancellationError) {
    log.info(`${what}: cancelled`);
    return;
  }
  log.error(`${what} failed (${code}): ${errorMessage(err)}`);
  const actions = actionsFor(code);
  void vscode.window.showErrorMessage(`Memory Lane: ${what} failed: ${errorMessage(err)}`, ...actions).then((choice) => {
    if (choice === SHOW_LOGS) void vscode.commands.executeCommand(Commands.showLogs);
    else if (choice === SHOW_LOCK_MONITOR) void vscode.commands.executeCommand(Commands.showLockMonitor);
    else if (choice === OPEN_SETTINGS) void vscode.commands.executeCommand(Commands.openSettings);
    else if (choice === SET_API_KEY) void vscode.commands.executeCommand(Commands.setApiKey, 'embedding');
  });
}

/** A background job of the extension (Upgrade Memories, Consolidate Memories), as its notifications name it. */
export interface BackgroundJob {
  /** The command's title, e.g. `Upgrade Memories`. */
  title: string;
  /** What another process holding its lock is doing, e.g. `upgrading`. */
  doing: string;
}

/**
 * A background job that failed as a whole. E_BUSY is another process holding the job's lock: not
 * an error but a warning naming the holder, with the lock monitor; anything else goes to reportError.
 */
export function reportJobFailure(job: BackgroundJob, err: unknown, log: Logger): void {
  if (!(err instanceof BusyError)) {
    reportError(job.title, err, log);
    return;
  }
  log.info(`not started: ${err.message}`);
  void vscode.window.showWarningMessage(`Memory Lane: another process is ${job.doing} this store: ${describeHolder(err.holder)}.`, SHOW_LOCK_MONITOR)
    .then((c) => { if (c) void vscode.commands.executeCommand(Commands.showLockMonitor); });
}

/** The job already runs in this window: say so, with the lock monitor and a way to cancel it. */
export function showAlreadyRunning(message: string, cancelLabel: string, cancel: () => void): void {
  void vscode.window.showInformationMessage(`Memory Lane: ${message}`, SHOW_LOCK_MONITOR, cancelLabel).then((c) => {
    if (c === SHOW_LOCK_MONITOR) void vscode.commands.executeCommand(Commands.showLockMonitor);
    if (c === cancelLabel) cancel();
  });
}

/**
 * Wraps a command handler: errors become a reportError notification instead of VS Code's generic
 * "command failed", and the handler's result (if any) is returned to callers such as tests.
 */
export function guarded<A extends unknown[], R>(what: string, log: Logger, fn: (...args: A) => Promise<R> | R): (...args: A) => Promise<R | undefined> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (err) {
      reportError(what, err, log);
      return undefined;
    }
  };
}
