import { homedir } from 'node:os';
import { posix, win32, type PlatformPath } from 'node:path';

/**
 * What path handling depends on, injectable so Windows rules are unit-tested on Linux and the other
 * way round (docs/platforms.md#paths-and-the-home-folder).
 */
export interface PathPlatform {
  platform: NodeJS.Platform;
  homedir: string;
  /** Where a relative MEMORY_LANE_DB or --db is resolved (the process's working folder). */
  cwd: string;
}

export function hostPathPlatform(): PathPlatform {
  return { platform: process.platform, homedir: homedir(), cwd: process.cwd() };
}

/** Node's path functions of that platform: win32 paths on Windows, POSIX ones elsewhere. */
export function pathFor(platform: NodeJS.Platform): PlatformPath {
  return platform === 'win32' ? win32 : posix;
}

/**
 * `~` alone, or `~` followed by a separator, as the home folder; undefined for anything else
 * (`~user` is not expanded). On POSIX `~\x` counts too, as `~/x`: a setting synced from Windows
 * keeps naming the same folder under the home, instead of a folder literally named `\x`.
 */
export function expandHome(value: string, on: PathPlatform = hostPathPlatform()): string | undefined {
  if (value !== '~' && !/^~[\\/]/.test(value)) return undefined;
  const path = pathFor(on.platform);
  const rest = on.platform === 'win32' ? value.slice(1) : value.slice(1).replace(/\\/g, '/');
  return path.resolve(on.homedir, '.' + path.sep + rest);
}

/** True when a store location is written as a URI (`scheme://…`) rather than a folder (`C:\\x` is a folder). */
export function looksLikeUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
}

/**
 * The store every Memory Lane process uses unless told otherwise: one per user, shared by all
 * VS Code windows, the CLI and MCP servers (so they really share memories). `MEMORY_LANE_DB`
 * overrides it for the CLI and MCP server; the extension has a setting. A leading `~` is the home
 * folder: MCP clients start servers from JSON configs and PowerShell passes `~` on as it is, so no
 * shell expands it first. Anything else relative is relative to the working folder, as on a command line.
 */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env, on: PathPlatform = hostPathPlatform()): string {
  const fromEnv = env.MEMORY_LANE_DB?.trim();
  // A remote store's URI (`s3+ddb://…`, docs/team-store.md) as written: not a path.
  if (fromEnv && looksLikeUri(fromEnv)) return fromEnv;
  const path = pathFor(on.platform);
  if (!fromEnv) return path.join(on.homedir, '.memory-lane', 'store');
  return expandHome(fromEnv, on) ?? path.resolve(on.cwd, fromEnv);
}
