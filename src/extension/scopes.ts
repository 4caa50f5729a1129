import { createHash } from 'node:crypto';

/** The parts of a workspace folder URI the scope is derived from (a vscode.Uri fits). */
export interface FolderUri {
  scheme: string;
  path: string;
  toString(): string;
}

/**
 * What identifies a folder across sessions. For `file` and `vscode-remote` URIs that is the path
 * only: a remote authority carries a port or tunnel name that changes from one session to the next
 * (code-server on a new port would otherwise see another workspace's memories vanish). Windows
 * paths are case-insensitive, so they are lower-cased. Other schemes (virtual file systems) keep
 * the whole URI.
 */
export function folderKey(uri: FolderUri, platform: NodeJS.Platform = process.platform): string {
  if (uri.scheme === 'file' || uri.scheme === 'vscode-remote') {
    const path = uri.path.replace(/\/+$/, '') || '/';
    return platform === 'win32' ? path.toLowerCase() : path;
  }
  return uri.toString();
}

/**
 * The memory scope of a workspace: `workspace:<12 hex>` from a hash of its folders (order does not
 * matter), or undefined without a folder. Stable across sessions and identical in every window that
 * opens the same folders, so memories stored in one window are recalled in the next.
 */
export function workspaceScope(folders: readonly FolderUri[], platform: NodeJS.Platform = process.platform): string | undefined {
  if (folders.length === 0) return undefined;
  const keys = [...new Set(folders.map((f) => folderKey(f, platform)))].sort();
  return `workspace:${createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 12)}`;
}

/** Recall and list scopes of a window: its workspace first, then `global`. */
export function defaultScopes(workspace: string | undefined): string[] {
  return workspace ? [workspace, 'global'] : ['global'];
}
