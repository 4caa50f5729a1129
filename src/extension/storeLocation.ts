import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { defaultStorePath } from '../core/paths';

export interface StoreLocation {
  /** The folder, absolute and normalized (`/a/b/../c` is `/a/c`). */
  dir: string;
  /**
   * Why the setting cannot be used (`is a relative path …`); then nothing is opened. Not replaced
   * by the default store: a person who set a folder wants their memories kept apart, and writing
   * them to the shared store instead would mix them in for good.
   */
  problem?: string;
}

/**
 * Where `memoryLane.storePath` puts the store. Empty is the shared default (`$MEMORY_LANE_DB`, else
 * `~/.memory-lane/store`); `~` is the home folder; any other path must be absolute. A relative
 * path has no meaning a person could predict (relative to the workspace? to VS Code's working
 * folder?), so it is refused instead of guessed. No `vscode` import: unit-tested.
 */
export function locateStore(setting: string, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const value = setting.trim();
  if (!value) return { dir: defaultStorePath(env) };
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    return { dir: defaultStorePath(env), problem: `must not contain control characters, got ${JSON.stringify(value)}` };
  }
  if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) return { dir: resolve(join(homedir(), value.slice(1))) };
  if (isAbsolute(value)) return { dir: resolve(value) };
  return { dir: resolve(homedir(), value), problem: `is a relative path (${JSON.stringify(value)}); write an absolute folder, or one starting with ~/` };
}
