import PQueue from 'p-queue';
import { errorMessage } from '../errors';
import type { MemoryPatch } from '../store/patch';
import { isLegacy, type SmartMetadata } from '../store/schema';
import { validateCategory, validateMetadata } from '../store/validation';
import { EnrichmentError, enricherKey, type Enricher, type Enrichment } from './enricher';
import { FallbackEnricher } from './fallbackEnricher';
import type { Preparation, UpgradeJob, UpgradeRow } from './job';
import type { UsageSink } from '../usage/tokens';

export interface EnrichJobOptions {
  enricher: Enricher;
  /** Per-entry fallback to `local` when an LLM enricher fails (default), or `none`: the entry fails with its reason. */
  fallback?: 'local' | 'none';
  /** Also re-enrich rows enriched by `local` (e.g. now that an LLM is configured). */
  force?: boolean;
  /** Entries in flight at once; defaults to the enricher's. */
  concurrency?: number;
}

function tierFor(importance: number): string {
  return importance >= 0.8 ? 'core' : importance >= 0.5 ? 'working' : 'peripheral';
}

/**
 * The patch intent for one enriched row: only the enrichment fields and the upgrade marker, merged by
 * the store onto the row as it is at commit time (counters the plugin bumped meanwhile survive), and
 * conditional on the text Phase 1 saw, so an abstract of an old text is never written.
 */
export function enrichmentPatch(row: UpgradeRow, e: Enrichment, now: number): MemoryPatch {
  const legacy = isLegacy(row);
  const previous = row.metadata.enrichment?.provider;
  const metadata: Record<string, unknown> = {
    l0_abstract: e.l0_abstract,
    l1_overview: e.l1_overview,
    l2_content: e.l2_content,
    confidence: e.confidence,
    enrichment: {
      provider: e.provider,
      ...(e.model ? { model: e.model } : {}),
      at: now,
      ...(e.fallbackReason ? { fallbackReason: e.fallbackReason } : {}),
      ...(!legacy && previous ? { previous } : {}),
    },
    upgraded_at: now,
  };
  if (legacy) metadata.upgraded_from = 'legacy';
  if (row.metadata.tier === undefined) metadata.tier = tierFor(row.importance);
  const patch: MemoryPatch = { id: row.id, metadata, expect: { text: row.text } };
  if (e.category !== row.category) {
    patch.set = { category: e.category };
    if (legacy && row.category) metadata.legacy_category = row.category;
  }
  return patch;
}

/** Enrichment as an upgrade job: legacy rows (and with `force`, `local`-enriched ones) get L0/L1/L2 and a category. */
export class EnrichJob implements UpgradeJob {
  readonly kind = 'enrich';
  readonly prepPhase = 'enrich';
  readonly label: string;
  readonly checkpointKey?: string;
  readonly spender?: UpgradeJob['spender'];
  private readonly enricher: Enricher;
  private readonly force: boolean;
  private readonly concurrency: number;

  constructor(options: EnrichJobOptions) {
    const primary = options.enricher;
    this.enricher = primary.provider !== 'local' && (options.fallback ?? 'local') === 'local' ? new FallbackEnricher(primary) : primary;
    this.force = options.force === true;
    this.concurrency = Math.max(1, options.concurrency ?? primary.concurrency);
    this.label = `upgrade (${enricherKey(primary)})`;
    // Local enrichment is cheaper to redo than to spool; LLM answers are worth keeping across a crash.
    if (primary.provider !== 'local') this.checkpointKey = `enrich:${enricherKey(primary)}`;
    if (primary.estimate) {
      const estimate = primary.estimate.bind(primary);
      this.spender = { purpose: 'enrich', provider: primary.provider, ...(primary.model ? { model: primary.model } : {}), estimateRow: (row) => estimate({ id: row.id, text: row.text, category: row.category, importance: row.importance }) };
    }
  }

  get fallbacks(): number {
    return this.enricher instanceof FallbackEnricher ? this.enricher.fallbacks : 0;
  }

  needs(metadata: SmartMetadata): boolean {
    if (isLegacy({ metadata })) return true;
    return this.force && metadata.enrichment?.provider === 'local';
  }

  async prepare(rows: UpgradeRow[], signal: AbortSignal, onPrepared: (n: number) => void, usage?: UsageSink): Promise<Preparation[]> {
    const queue = new PQueue({ concurrency: this.concurrency });
    const out: Preparation[] = new Array(rows.length);
    // On cancel, queued tasks return at once (in-flight ones are aborted through the signal).
    await Promise.all(rows.map((row, i) => queue.add(async () => {
      if (signal.aborted) return;
      // Local enrichment is synchronous: let the event loop breathe (the extension host shares it).
      if (i % 64 === 63) await new Promise((r) => setImmediate(r));
      const prepared = await this.prepareOne(row, signal, usage);
      if (!prepared) return;
      out[i] = prepared;
      onPrepared(1);
    })));
    return out.filter((p): p is Preparation => p !== undefined);
  }

  private async prepareOne(row: UpgradeRow, signal: AbortSignal, usage?: UsageSink): Promise<Preparation | undefined> {
    // Only foreign or migrated tables can hold a blank text; there is nothing to abstract.
    if (!row.text.trim()) return { id: row.id, skip: 'empty text' };
    let e: Enrichment;
    try {
      e = await this.enricher.enrich({ id: row.id, text: row.text, category: row.category, importance: row.importance }, signal, usage);
    } catch (err) {
      if (signal.aborted) return undefined;
      return { id: row.id, fail: err instanceof EnrichmentError ? err.reason : `enrichment failed: ${errorMessage(err)}` };
    }
    const patch = enrichmentPatch(row, e, Date.now());
    try {
      // Validated here, per entry: one oversized entry must fail alone, not take its batch down.
      validateMetadata(patch.metadata);
      if (patch.set?.category !== undefined) validateCategory(patch.set.category);
    } catch (err) {
      return { id: row.id, fail: `enrichment not storable: ${errorMessage(err)}` };
    }
    return {
      id: row.id,
      patch,
      ...(e.fallbackReason ? { fallbackReason: e.fallbackReason } : {}),
      preview: { id: row.id, category: { from: row.category, to: e.category }, l0_abstract: e.l0_abstract, provider: e.provider, ...(e.fallbackReason ? { fallbackReason: e.fallbackReason } : {}) },
    };
  }
}
