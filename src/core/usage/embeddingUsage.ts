import { CachingEmbedder } from '../embedding/cachingEmbedder';
import type { Embedder } from '../embedding/embedder';
import { OpenAICompatibleEmbedder } from '../embedding/openaiEmbedder';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { TokenLedger } from './tokenLedger';
import { TokenMeter } from './tokens';

/**
 * Records the embedding calls of a service's remote embedder in the store's ledger. Agents' stores
 * and recalls embed one text at a time, so their usage is buffered and appended every few seconds
 * (and on close) instead of one fsync per call; a process killed in between loses at most that
 * window's figures, never a memory. The local embedder makes no calls and records nothing.
 */
export class EmbeddingUsageRecorder {
  private readonly ledger: TokenLedger;
  private readonly meter = new TokenMeter();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  private constructor(dir: string, private readonly log: Logger | undefined, private readonly flushMs: number) {
    this.ledger = new TokenLedger(dir);
  }

  /** Attaches to the remote embedder inside `embedder`, if there is one; undefined otherwise. */
  static attach(embedder: Embedder, dir: string, options: { logger?: Logger; flushMs?: number } = {}): EmbeddingUsageRecorder | undefined {
    const inner = embedder instanceof CachingEmbedder ? embedder.inner : embedder;
    if (!(inner instanceof OpenAICompatibleEmbedder)) return undefined;
    const recorder = new EmbeddingUsageRecorder(dir, options.logger, options.flushMs ?? 5000);
    inner.onUsage = (u) => {
      recorder.meter.record(u);
      recorder.timer ??= setTimeout(() => { recorder.timer = undefined; void recorder.flush(); }, recorder.flushMs).unref();
    };
    return recorder;
  }

  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const pending = this.meter.takePending();
      if (pending.length === 0) return;
      try {
        await this.ledger.append(pending);
      } catch (err) {
        this.log?.warn(`could not record ${pending.reduce((n, p) => n + p.calls, 0)} embedding calls in the token ledger: ${errorMessage(err)}`);
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
