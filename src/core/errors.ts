/**
 * Every error the core raises has a stable `code` (the CLI maps it to an exit line, the MCP server to
 * a tool error, the extension to a notification) and carries the facts a person needs to act.
 */
export class MemoryLaneError extends Error {
  /** Set when the failed write was kept in the dead-letter queue for replay. */
  deadLetterId?: string;

  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from a caller. `field` names what was wrong; nothing was stored. */
export class ValidationError extends MemoryLaneError {
  constructor(readonly field: string, message: string) {
    super('E_INVALID', `${field}: ${message}`);
  }
}

export interface LockHolderInfo {
  pid: number;
  host: string;
  label: string;
  since: number;
}

export function describeHolder(holder: LockHolderInfo | undefined): string {
  if (!holder) return 'an unknown holder (no owner record)';
  const age = ((Date.now() - holder.since) / 1000).toFixed(1);
  return `pid ${holder.pid} on ${holder.host} ("${holder.label}", held for ${age}s)`;
}

export class LockTimeoutError extends MemoryLaneError {
  constructor(readonly waitedMs: number, readonly holder: LockHolderInfo | undefined, readonly operation: string) {
    super('E_LOCK_TIMEOUT', `Timed out after ${waitedMs} ms waiting for the store lock for "${operation}"; it is held by ${describeHolder(holder)}`);
  }
}

export class DimensionMismatchError extends MemoryLaneError {
  constructor(readonly expected: number, readonly actual: number, what = 'vector') {
    super('E_DIMENSION', `${what} has dimension ${actual}, but this store's vectors have dimension ${expected}`);
  }
}

export class StoreVersionError extends MemoryLaneError {
  constructor(readonly found: number, readonly supported: number, readonly dir: string) {
    super('E_STORE_VERSION', `The store at ${dir} has schema version ${found}, newer than this Memory Lane understands (${supported}); upgrade Memory Lane to use it`);
  }
}

export class NotFoundError extends MemoryLaneError {
  constructor(readonly id: string) {
    super('E_NOT_FOUND', `No memory with id ${JSON.stringify(id)}`);
  }
}

export class IdConflictError extends MemoryLaneError {
  constructor(readonly id: string) {
    super('E_ID_CONFLICT', `A different memory with id ${JSON.stringify(id)} already exists`);
  }
}

/** A write could not be committed (conflicts exhausted, disk error, …); it was put in the dead-letter queue. */
export class WriteFailedError extends MemoryLaneError {
  constructor(message: string, deadLetterId: string | undefined, options?: { cause?: unknown }) {
    super('E_WRITE_FAILED', message, options);
    this.deadLetterId = deadLetterId;
  }
}

export class StoreUnavailableError extends MemoryLaneError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_STORE_UNAVAILABLE', message, options);
  }
}

export class CancelledError extends MemoryLaneError {
  constructor(what = 'operation') {
    super('E_CANCELLED', `The ${what} was cancelled`);
  }
}

export class BusyError extends MemoryLaneError {
  constructor(message: string, readonly holder?: LockHolderInfo) {
    super('E_BUSY', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function errorCode(err: unknown): string {
  return err instanceof MemoryLaneError ? err.code : (err as NodeJS.ErrnoException)?.code ?? 'E_INTERNAL';
}

/** The store's own bookkeeping (`store.json`, the table's layout) is unreadable or unusable. */
export class StoreMetaError extends MemoryLaneError {
  constructor(message: string) {
    super('E_STORE_META', message);
  }
}

/** A file handed to an import or restore is not in the format it claims. */
export class FormatError extends MemoryLaneError {
  constructor(message: string) {
    super('E_FORMAT', message);
  }
}

/** A memory kept changing under a read-modify-write; trying again is the remedy. */
export class ConcurrentChangeError extends MemoryLaneError {
  constructor(message: string) {
    super('E_CONFLICT', message);
  }
}

/** Vectors are needed and no embedder can make them. */
export class NoEmbedderError extends MemoryLaneError {
  constructor(message: string) {
    super('E_NO_EMBEDDER', message);
  }
}

/**
 * A remote store (s3+ddb://, s3://, gs://, az://) cannot be opened safely: bad connection settings,
 * missing credentials or DynamoDB table, or an endpoint that would lose writes. `setting` names what
 * to change; the message never contains a credential.
 */
export class RemoteStoreError extends MemoryLaneError {
  constructor(readonly setting: string, message: string, options?: { cause?: unknown }) {
    super('E_REMOTE_STORE', message, options);
  }
}
