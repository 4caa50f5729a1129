import { defaultStorePath } from '../core/paths';
import { parseLogLevel, stderrLogger, type Logger } from '../core/log';
import { MemoryStore, type MemoryStoreOptions } from '../core/store/memoryStore';
import type { CliOutput } from './output';

/** What every command gets: where the store is, how to print, and the store opened lazily once. */
export class CliContext {
  readonly logger: Logger;
  private store: MemoryStore | undefined;

  constructor(readonly dbPath: string, readonly out: CliOutput, verbose: boolean) {
    this.logger = stderrLogger(verbose ? 'debug' : parseLogLevel(process.env.MEMORY_LANE_LOG, 'warn'));
  }

  static fromOptions(options: { db?: string; json?: boolean; verbose?: boolean }, out: CliOutput): CliContext {
    return new CliContext(options.db ? defaultStorePath({ MEMORY_LANE_DB: options.db }) : defaultStorePath(), out, !!options.verbose);
  }

  /** Opens the existing store (commands that only read or repair must not create one by accident). */
  async openStore(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    this.store ??= await MemoryStore.open(this.dbPath, { create: false, logger: this.logger, ...options });
    return this.store;
  }

  async close(): Promise<void> {
    await this.store?.close();
    this.store = undefined;
  }
}
