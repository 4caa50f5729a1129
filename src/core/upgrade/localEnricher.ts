import type { Enricher, Enrichment, EnrichmentInput } from './enricher';
import { cleanText, resolveCategory, sentences, truncateAtBoundary } from './heuristics';

export interface LocalEnricherOptions {
  /** L0 length limit (UTF-16 units). */
  maxAbstractChars?: number;
  /** Length limit of each L1 bullet. */
  maxBulletChars?: number;
  maxBullets?: number;
  /**
   * L2 length limit. Metadata is capped at 256 KiB per row (validation.ts) while a text may be
   * 1 MiB; the full text always stays in `text`, so L2 of a huge memory is its cleaned head.
   */
  maxContentChars?: number;
}

/**
 * The default enricher: deterministic, no network, any language. L0 is the first sentence, L1 the
 * first sentences as bullets, L2 the cleaned text, the category by rules. The same input always
 * gives the same output, so an interrupted and resumed upgrade ends exactly like an uninterrupted one.
 */
export class LocalEnricher implements Enricher {
  readonly provider = 'local';
  readonly model = undefined;
  readonly concurrency = 1;
  private readonly maxAbstract: number;
  private readonly maxBullet: number;
  private readonly maxBullets: number;
  private readonly maxContent: number;

  constructor(options: LocalEnricherOptions = {}) {
    this.maxAbstract = options.maxAbstractChars ?? 160;
    this.maxBullet = options.maxBulletChars ?? 200;
    this.maxBullets = options.maxBullets ?? 5;
    this.maxContent = options.maxContentChars ?? 32_000;
  }

  enrich(input: EnrichmentInput): Promise<Enrichment> {
    return Promise.resolve(this.enrichSync(input));
  }

  enrichSync(input: EnrichmentInput): Enrichment {
    const cleaned = cleanText(input.text);
    const content = cleaned || input.text.trim() || input.text;
    const parts = sentences(content, 4000, this.maxBullets);
    const first = parts[0] ?? content;
    const { category, byRule } = resolveCategory(content, input.category);
    const bullets = (parts.length > 0 ? parts : [first]).slice(0, this.maxBullets).map((s) => `- ${truncateAtBoundary(s, this.maxBullet)}`);
    return {
      l0_abstract: truncateAtBoundary(first.replace(/\s+/g, ' '), this.maxAbstract),
      l1_overview: bullets.join('\n'),
      l2_content: truncateAtBoundary(content, this.maxContent),
      category,
      confidence: byRule ? 0.6 : 0.5,
      provider: this.provider,
    };
  }
}
