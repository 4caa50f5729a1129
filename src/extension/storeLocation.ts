import { errorMessage } from '../core/errors';
import { defaultStorePath, expandHome, hostPathPlatform, looksLikeUri, pathFor, type PathPlatform } from '../core/paths';
import { parseStoreLocation } from '../core/store/location';

export interface StoreLocation {
  /** The folder, absolute and normalized (`/a/b/../c` is `/a/c`), or a remote store's URI (`s3+ddb://…`). */
  dir: string;
  /** True for `s3+ddb://`, `s3://`, `gs://`, `az://` (docs/team-store.md). */
  remote?: boolean;
  /**
   * Why the setting cannot be used (`is a relative path …`); then nothing is opened. Not replaced
   * by the default store: a person who set a folder wants their memories kept apart, and writing
   * them to the shared store instead would mix them in for good.
   */
  problem?: string;
}

/**
 * Where `memoryLane.storePath` puts the store. Empty is the shared default (`$MEMORY_LANE_DB`, else
 * `~/.memory-lane/store`); `~` is the home folder; any other path must be absolute, or a remote
 * store's URI (checked by core/store/location.ts, its problem reported as any other). A relative
 * path has no meaning a person could predict (relative to the workspace? to VS Code's working
 * folder?), so it is refused instead of guessed. On Windows that includes `\store` and `C:store`,
 * whose drive or folder would be the process's current one. No `vscode` import: unit-tested, with
 * the platform injected (docs/platforms.md#paths-and-the-home-folder).
 */
export function locateStore(setting: string, env: NodeJS.ProcessEnv = process.env, on: PathPlatform = hostPathPlatform()): StoreLocation {
  const path = pathFor(on.platform);
  const value = setting.trim();
  if (!value) {
    const dir = defaultStorePath(env, on);
    return { dir, ...(looksLikeUri(dir) ? { remote: true } : {}) };
  }
  if (looksLikeUri(value) && !/[\u0000-\u001f\u007f]/.test(value)) {
    try {
      const location = parseStoreLocation(value, 'memoryLane.storePath', env, { relative: 'refuse' });
      return { dir: location.uri, ...(location.kind === 'remote' ? { remote: true } : {}) };
    } catch (err) {
      // "memoryLane.storePath: has the unsupported scheme …" → the problem completes "memoryLane.storePath …".
      return { dir: defaultStorePath(env, on), problem: errorMessage(err).replace(/^memoryLane\.storePath: /, '') };
    }
  }
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    return { dir: defaultStorePath(env, on), problem: `must not contain control characters, got ${JSON.stringify(value)}` };
  }
  const home = expandHome(value, on);
  if (home) return { dir: home };
  const fallback = path.resolve(on.homedir, value);
  if (on.platform === 'win32' && /^[\\/](?![\\/])/.test(value)) {
    return { dir: fallback, problem: `has no drive letter (${JSON.stringify(value)}), so its drive would be whichever is current; write e.g. C:${value}, or start with ~\\` };
  }
  if (path.isAbsolute(value)) return { dir: path.resolve(value) };
  const hint = /[%$]/.test(value) ? ' (environment variables are not expanded here)' : '';
  return { dir: fallback, problem: `is a relative path (${JSON.stringify(value)})${hint}; write an absolute folder, or one starting with ~${path.sep === '\\' ? '\\' : '/'}` };
}
