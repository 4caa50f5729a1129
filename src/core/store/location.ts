import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ValidationError } from '../errors';
import { expandHome, hostPathPlatform, looksLikeUri, pathFor } from '../paths';

export { looksLikeUri };

/**
 * Where a store lives, and where this machine keeps its own files for it. The ONE place that
 * decides both: every file Memory Lane keeps beside a store (lock, owner records, dead letters,
 * checkpoints, read pins, journals, ledgers, the index record) is joined onto `stateDir`, never onto
 * the store location itself (docs/team-store.md#the-per-machine-state-folder).
 *
 * - A **folder** store keeps them in the store folder, as it always did (nothing moves).
 * - A **remote** store (`s3+ddb://`, `s3://`, `gs://`, `az://`) keeps them in a per-machine folder,
 *   `~/.memory-lane/state/<key>` (or `$MEMORY_LANE_STATE_DIR/<key>`), keyed by the store URI.
 */
export type StoreLocation = FolderStoreLocation | RemoteStoreLocation;

export interface FolderStoreLocation {
  kind: 'folder';
  /** Absolute, normalized folder; what LanceDB opens. */
  uri: string;
  /** How views, logs and errors name the store. */
  label: string;
  stateDir: string;
}

export type RemoteScheme = 's3+ddb' | 's3' | 'gs' | 'az';

/** How concurrent commits from different machines are kept apart (docs/team-store.md#what-it-does). */
export type CommitCoordination = 'dynamodb' | 'conditional-put';

export interface RemoteStoreLocation {
  kind: 'remote';
  scheme: RemoteScheme;
  /** The URI as LanceDB opens it (normalized: no trailing slash, the one query LanceDB accepts). */
  uri: string;
  label: string;
  bucket: string;
  /** The path inside the bucket, without leading or trailing slash ('' for the bucket's root). */
  prefix: string;
  /** `s3+ddb://` only: the DynamoDB table that coordinates commits. */
  ddbTableName?: string;
  coordination: CommitCoordination;
  stateDir: string;
}

const REMOTE_SCHEMES: readonly RemoteScheme[] = ['s3+ddb', 's3', 'gs', 'az'];
const URI_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
/** DynamoDB's own rule for table names. */
const DDB_TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Reads a store location from a setting, a flag or an environment variable; `source` names it in
 * errors (`--db`, `MEMORY_LANE_DB`, `memoryLane.storePath`). Folders: absolute, or starting with `~`.
 * URIs: one of REMOTE_SCHEMES with a bucket; `s3+ddb://` needs exactly `?ddbTableName=T`.
 * No credentials in the URI: they come from the environment or the editor's SecretStorage.
 */
export function parseStoreLocation(value: string, source: string, env: NodeJS.ProcessEnv = process.env, options: { relative?: 'resolve' | 'refuse' } = {}): StoreLocation {
  const text = value.trim();
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new ValidationError(source, `must not contain control characters, got ${JSON.stringify(text)}`);
  if (!text) throw new ValidationError(source, 'is empty: name a folder or an s3+ddb:// URI');
  if (!looksLikeUri(text)) return folderLocation(text, source, options.relative ?? 'resolve');
  return remoteLocation(text, source, env);
}

function folderLocation(text: string, source: string, relative: 'resolve' | 'refuse'): FolderStoreLocation {
  // The folder rules of paths.ts (the home folder, Windows drives): docs/platforms.md#paths-and-the-home-folder.
  const on = hostPathPlatform();
  const path = pathFor(on.platform);
  let dir = expandHome(text, on);
  if (!dir && path.isAbsolute(text)) dir = path.resolve(text);
  // The CLI and MCP server resolve a relative --db against their working folder, as any tool does.
  if (!dir && relative === 'resolve') dir = path.resolve(on.cwd, text);
  if (!dir) throw new ValidationError(source, `is a relative path (${JSON.stringify(text)}); write an absolute folder, or one starting with ~/ (or a remote store's s3+ddb:// URI)`);
  return { kind: 'folder', uri: dir, label: dir, stateDir: dir };
}

function remoteLocation(text: string, source: string, env: NodeJS.ProcessEnv): RemoteStoreLocation {
  const scheme = URI_SCHEME.exec(text)![1]!.toLowerCase();
  if (scheme === 'file') {
    throw new ValidationError(source, `write the folder itself instead of a file:// URI (${JSON.stringify(text)})`);
  }
  if (!(REMOTE_SCHEMES as readonly string[]).includes(scheme)) {
    throw new ValidationError(source, `has the unsupported scheme "${scheme}://"; use a folder, s3+ddb://bucket/path?ddbTableName=TABLE, s3://, gs:// or az://`);
  }
  // Checked on the text: URL parsing would quietly resolve them.
  const rawPath = text.replace(URI_SCHEME, '').replace(/[?#].*$/, '');
  if (rawPath.split('/').slice(1).some((part) => part === '..' || part === '.')) throw new ValidationError(source, `must not contain "." or ".." path parts: ${JSON.stringify(redactUri(text))}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ValidationError(source, `is not a valid URI: ${JSON.stringify(redactUri(text))}`);
  }
  if (url.username || url.password) {
    throw new ValidationError(source, 'must not carry credentials in the URI; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the editor command "Memory Lane: Set Store Credentials")');
  }
  const bucket = url.hostname;
  if (!bucket) throw new ValidationError(source, `names no bucket: write ${scheme}://BUCKET/path`);
  if (url.port) throw new ValidationError(source, `must not name a port after the bucket; set the endpoint with AWS_ENDPOINT_URL (or memoryLane.remote.endpoint)`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  if (url.hash) throw new ValidationError(source, 'must not contain a #fragment');
  const query = [...url.searchParams.entries()];
  let ddbTableName: string | undefined;
  if (scheme === 's3+ddb') {
    if (query.length !== 1 || query[0]![0] !== 'ddbTableName') {
      throw new ValidationError(source, 'needs exactly one query, the DynamoDB table: s3+ddb://bucket/path?ddbTableName=TABLE');
    }
    ddbTableName = query[0]![1];
    if (!DDB_TABLE_NAME.test(ddbTableName)) {
      throw new ValidationError(source, `has an invalid DynamoDB table name ${JSON.stringify(ddbTableName)} (3–255 letters, digits, "_", "-", ".")`);
    }
  } else if (query.length > 0) {
    throw new ValidationError(source, `takes no query on ${scheme}:// (only s3+ddb:// takes ?ddbTableName=…)`);
  }
  const path = prefix ? `/${prefix}` : '';
  const uri = `${scheme}://${bucket}${path}${ddbTableName ? `?ddbTableName=${ddbTableName}` : ''}`;
  return {
    kind: 'remote',
    scheme: scheme as RemoteScheme,
    uri,
    label: uri,
    bucket,
    prefix,
    ...(ddbTableName ? { ddbTableName } : {}),
    coordination: scheme === 's3+ddb' ? 'dynamodb' : 'conditional-put',
    stateDir: stateDirFor(uri, env),
  };
}

/**
 * This machine's folder for a remote store: readable name (bucket and path) plus a hash of the whole
 * URI, so two stores never share a lock or a dead-letter queue and the folder is easy to find.
 */
export function stateDirFor(uri: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MEMORY_LANE_STATE_DIR?.trim();
  const base = fromEnv ? resolve(fromEnv) : join(homedir(), '.memory-lane', 'state');
  const readable = uri.replace(/^[a-z0-9+]+:\/\//i, '').replace(/\?.*$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
  const hash = createHash('sha256').update(uri).digest('hex').slice(0, 12);
  return join(base, `${readable}-${hash}`);
}

/** A URI as errors may show it: no user info, no query values other than the table name. */
export function redactUri(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/g, '//[redacted]@');
}
