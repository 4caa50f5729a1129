import { CancelledError } from '../../src/core/errors';
import { LocalEnricher, type Enricher, type Enrichment, type EnrichmentInput } from '../../src/core/upgrade';

/**
 * A stand-in for an LLM enrichment endpoint (bench only): each entry takes `latencyMs` of wall time
 * (a timer, no CPU — like waiting on a remote model) and returns the local enricher's fields under
 * the provider name `simulated-llm`. `concurrency` entries may be in flight at once, as with a real
 * endpoint. Chosen over a stub HTTP server so the figures measure the upgrade design, not Node's
 * HTTP stack on a loaded 2-core machine.
 */
export class SimulatedLlmEnricher implements Enricher {
  readonly provider = 'simulated-llm';
  readonly model: string;
  private readonly local = new LocalEnricher();
  calls = 0;

  constructor(readonly latencyMs: number, readonly concurrency: number) {
    this.model = `sleep-${latencyMs}ms`;
  }

  enrich(input: EnrichmentInput, signal: AbortSignal): Promise<Enrichment> {
    this.calls++;
    return new Promise<Enrichment>((resolve, reject) => {
      if (signal.aborted) return reject(new CancelledError('enrichment'));
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve({ ...this.local.enrichSync(input), provider: this.provider, model: this.model });
      }, this.latencyMs);
      const onAbort = () => { clearTimeout(timer); reject(new CancelledError('enrichment')); };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
