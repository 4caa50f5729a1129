import { defaultStorePath } from '../core/paths';
import { parseStoreLocation, type StoreLocation } from '../core/store/location';
import { parseLogLevel, stderrLogger, type Logger } from '../core/log';
import { resolveLockSettings, type LockSettings } from '../core/defaults';
import { lockStoreOptions, MemoryStore, type MemoryStoreOptions } from '../core/store/memoryStore';
import { MemoryService } from '../core/memoryService';
import { embedderConfigFromEnv } from '../core/embedding';
import { PRODUCT_VERSION } from '../core/version';
import type { CliOutput } from './output';

/** How the command line signs its writes (writer kind `cli`: a person at a terminal). */
export const CLI_CLIENT = { name: 'memory-lane-cli', version: PRODUCT_VERSION } as const;

/** What every command gets: where the store is, how to print, and the store opened lazily once. */
export class CliContext {
  readonly logger: Logger;
  private store: MemoryStore | undefined;
  private service: MemoryService | undefined;

  constructor(readonly dbPath: string, readonly out: CliOutput, verbose: boolean, readonly locks: LockSettings = resolveLockSettings()) {
    this.logger = stderrLogger(verbose ? 'debug' : parseLogLevel(process.env.MEMORY_LANE_LOG, 'warn'));
  }

  static fromOptions(options: { db?: string; json?: boolean; verbose?: boolean; lockTimeout?: string; lockBackgroundTimeout?: string; lockStale?: string }, out: CliOutput): CliContext {
    // Flags over MEMORY_LANE_LOCK_* over the defaults; a bad value is an error naming the flag.
    const locks = resolveLockSettings(
      { writeTimeoutMs: options.lockTimeout, backgroundTimeoutMs: options.lockBackgroundTimeout, staleMs: options.lockStale },
      process.env,
      { writeTimeoutMs: '--lock-timeout', backgroundTimeoutMs: '--lock-background-timeout', staleMs: '--lock-stale' },
    );
    const dbPath = options.db ? defaultStorePath({ MEMORY_LANE_DB: options.db }) : defaultStorePath();
    // A bad URI is an error naming where it came from, before anything is opened.
    parseStoreLocation(dbPath, options.db ? '--db' : 'MEMORY_LANE_DB');
    return new CliContext(dbPath, out, !!options.verbose, locks);
  }

  /** The store's location (a folder, or a remote store's URI with this machine's state folder). */
  get location(): StoreLocation {
    return parseStoreLocation(this.dbPath, '--db');
  }

  /** Opens the existing store (commands that only read or repair must not create one by accident). */
  async openStore(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    if (this.service) return this.service.memoryStore;
    this.store ??= await MemoryStore.open(this.dbPath, { create: false, logger: this.logger, ...lockStoreOptions(this.locks), ...options });
    return this.store;
  }

  /**
   * The memory service (embedder from MEMORY_LANE_EMBEDDING_* variables, local by default). Only
   * commands that store may create the store. A CLI process is short-lived: no background ANN build.
   */
  async openService(options: { create?: boolean; scopes?: string[] } = {}): Promise<MemoryService> {
    if (!this.service) {
      if (this.store) throw new Error('openService must come before openStore in one command');
      this.service = await MemoryService.open({
        dir: this.dbPath,
        embedding: embedderConfigFromEnv(),
        logger: this.logger,
        source: 'cli',
        writer: { kind: 'cli', client: { ...CLI_CLIENT } },
        create: options.create ?? false,
        vectorIndex: { auto: false },
        storeOptions: lockStoreOptions(this.locks),
        ...(options.scopes?.length ? { defaultScopes: options.scopes } : {}),
      });
    }
    return this.service;
  }

  async close(): Promise<void> {
    await this.service?.close();
    await this.store?.close();
    this.service = undefined;
    this.store = undefined;
  }
}
