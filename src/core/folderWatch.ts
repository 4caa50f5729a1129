import { existsSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { errorMessage } from './errors';
import type { Disposable } from './lifecycle';
import { nullLogger, type Logger } from './log';

/**
 * A non-recursive `fs.watch` of `dir`, calling `onEntry` with the changed entry's name (null when
 * the platform does not say). Watching never polls. While `dir` does not exist yet (a store no
 * process has written to), its nearest existing ancestor is watched until it appears; then `onEntry(null)`.
 */
export function watchFolder(dir: string, onEntry: (name: string | null) => void, log: Logger = nullLogger): Disposable {
  let watcher: FSWatcher | undefined;
  let disposed = false;
  const open = (path: string, listener: (name: string | null) => void): FSWatcher | undefined => {
    try {
      const w = watch(path, { persistent: false }, (_event, name) => listener(name ? String(name) : null));
      w.on('error', (err) => {
        log.debug(`watching ${path} stopped: ${errorMessage(err)}`);
        w.close();
      });
      return w;
    } catch (err) {
      log.debug(`cannot watch ${path}: ${errorMessage(err)}`);
      return undefined;
    }
  };
  const start = (appeared: boolean) => {
    watcher?.close();
    watcher = undefined;
    if (disposed) return;
    if (existsSync(dir)) {
      watcher = open(dir, onEntry);
      if (appeared) onEntry(null);
      return;
    }
    let ancestor = dirname(dir);
    while (!existsSync(ancestor) && dirname(ancestor) !== ancestor) ancestor = dirname(ancestor);
    const next = relative(ancestor, dir).split(sep)[0];
    watcher = open(ancestor, (name) => {
      if ((name === null || name === next) && existsSync(join(ancestor, next))) start(true);
    });
  };
  start(false);
  return { dispose: () => { disposed = true; watcher?.close(); } };
}
