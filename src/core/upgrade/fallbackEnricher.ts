import { errorMessage } from '../errors';
import { EnrichmentError, type Enricher, type Enrichment, type EnrichmentInput } from './enricher';
import { LocalEnricher } from './localEnricher';
import type { UsageSink } from '../usage/tokens';

/**
 * Per-entry fallback: when the primary (LLM) enricher fails for one entry — timeout, HTTP error,
 * invalid JSON, a huge reply — that entry is enriched by `local` instead and the reason is recorded
 * (`metadata.enrichment.fallbackReason`), so a later `force` run can retry it with the LLM.
 * Cancellation is never turned into a fallback.
 */
export class FallbackEnricher implements Enricher {
  readonly provider: string;
  readonly model?: string;
  readonly concurrency: number;
  /** Entries that fell back in this run. */
  fallbacks = 0;

  constructor(readonly primary: Enricher, private readonly fallback: LocalEnricher = new LocalEnricher()) {
    this.provider = primary.provider;
    this.model = primary.model;
    this.concurrency = primary.concurrency;
    if (primary.estimate) this.estimate = (input) => primary.estimate!(input);
  }

  estimate?: Enricher['estimate'];

  async enrich(input: EnrichmentInput, signal: AbortSignal, usage?: UsageSink): Promise<Enrichment> {
    try {
      return await this.primary.enrich(input, signal, usage);
    } catch (err) {
      if (signal.aborted) throw err;
      const reason = err instanceof EnrichmentError ? err.reason : `enricher error: ${errorMessage(err)}`;
      this.fallbacks++;
      const local = await this.fallback.enrich(input);
      return { ...local, fallbackReason: `${this.primary.provider}${this.primary.model ? ` (${this.primary.model})` : ''}: ${reason}`.slice(0, 500) };
    }
  }
}
