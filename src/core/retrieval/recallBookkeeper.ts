import { errorMessage } from '../errors';
import type { Disposable } from '../lifecycle';
import { nullLogger, type Logger } from '../log';
import type { MemoryStore, PatchResult } from '../store/memoryStore';
import type { MemoryPatch } from '../store/patch';

export interface RecallBookkeeperOptions {
  /**
   * Coalescing window: counts gathered within it become one background patch batch (default 1 s).
   * Every flush is a LanceDB commit that rewrites the counted rows into a new fragment, and recall
   * slows with the fragment count until maintenance compacts. In a tight recall loop on 10k rows,
   * 250 ms windows left 18 fragments after 112 recalls (p50 22 → 32 ms), 1 s windows 4–5.
   */
  debounceMs?: number;
  logger?: Logger;
}

export interface BookkeepingFlush {
  ids: number;
  applied: number;
  /** Memories forgotten between the recall and the flush: nothing to count. */
  missing: number;
  /** Failed rows; the store kept them in its dead-letter queue for replay. */
  failed: Array<{ id: string; reason: string }>;
}

/**
 * Counts how often each memory was handed to an agent (`metadata.injected_count`) and when last
 * (`metadata.last_injected_at`). Recall only bumps an in-memory tally (no I/O, never slows recall);
 * every `debounceMs` the tally becomes one batch of commuting patches — `increment` and `raiseTo`,
 * merged onto each row at commit time under the lock — at background priority, so it never delays
 * an interactive write and never loses a count to another process's concurrent recall (docs/lessons.md#stale-snapshot). `close()` flushes what is pending; a failed flush is kept by the store's
 * dead-letter queue, not retried here (a retry plus a replay would count twice).
 */
export class RecallBookkeeper implements Disposable {
  private pending = new Map<string, { count: number; last: number }>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly debounceMs: number;
  private readonly log: Logger;
  /** Last resort for a process that ends without close(): flush when the event loop drains. */
  private readonly onBeforeExit = () => { if (this.pending.size > 0) void this.flush(); };

  constructor(private readonly store: MemoryStore, options: RecallBookkeeperOptions = {}) {
    this.debounceMs = Math.max(0, options.debounceMs ?? 1000);
    this.log = options.logger ?? nullLogger;
    process.on('beforeExit', this.onBeforeExit);
  }

  /** Memories with counts not yet written. */
  get pendingIds(): number {
    return this.pending.size;
  }

  /** Notes that these memories were just returned to an agent. Synchronous; the write happens later. */
  record(ids: readonly string[], at = Date.now()): void {
    if (this.closed || ids.length === 0) return;
    for (const id of ids) {
      const p = this.pending.get(id);
      if (p) { p.count++; p.last = Math.max(p.last, at); } else this.pending.set(id, { count: 1, last: at });
    }
    // A fixed window from the first unflushed count (not reset per recall): a steady stream of
    // recalls still flushes every debounceMs instead of never.
    if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = undefined; void this.flush(); }, this.debounceMs);
      this.timer.unref?.();
    }
  }

  /** Writes everything pending now, after any flush already in flight. */
  flush(): Promise<BookkeepingFlush> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const next = this.inFlight.then(() => this.write());
    this.inFlight = next.catch(() => undefined);
    return next;
  }

  private async write(): Promise<BookkeepingFlush> {
    const batch = this.pending;
    this.pending = new Map();
    const report: BookkeepingFlush = { ids: batch.size, applied: 0, missing: 0, failed: [] };
    if (batch.size === 0) return report;
    const patches: MemoryPatch[] = [...batch].map(([id, { count, last }]) => ({ id, increment: { injected_count: count }, raiseTo: { last_injected_at: last } }));
    let results: PatchResult[];
    try {
      results = await this.store.patch(patches, { priority: 'background', label: `recall bookkeeping (${patches.length} memories)` });
    } catch (err) {
      this.log.warn(`recall bookkeeping for ${patches.length} memories failed (${errorMessage(err)}); kept in the dead-letter queue`);
      return { ...report, failed: patches.map((p) => ({ id: p.id, reason: errorMessage(err) })) };
    }
    for (const r of results) {
      if (r.status === 'applied') report.applied++;
      else if (r.status === 'missing') report.missing++;
      else report.failed.push({ id: r.id, reason: r.status === 'failed' ? r.error : r.status });
    }
    if (report.failed.length) this.log.warn(`recall bookkeeping: ${report.failed.length} of ${patches.length} counts failed (${report.failed[0]!.reason})`);
    else this.log.trace(`recall bookkeeping: ${report.applied} memories counted`);
    return report;
  }

  /** Flushes what is pending and stops counting. */
  async close(): Promise<BookkeepingFlush> {
    this.closed = true;
    const report = await this.flush();
    process.off('beforeExit', this.onBeforeExit);
    return report;
  }

  dispose(): void {
    void this.close().catch(() => undefined);
  }
}
