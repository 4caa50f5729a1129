import { z } from 'zod/v4';
import { CATEGORIES, LEGACY_CATEGORY_MAP, type Category } from '../store/schema';
import type { EnrichmentInput } from './enricher';

/**
 * The contract with an LLM enricher: the prompt, the JSON schema sent as structured output, and the
 * validation of the reply. Shared by the `openai-compatible` enricher and the extension's VS Code
 * language-model provider, so both ask the same question and accept the same answers.
 */

export interface ReplyLimits {
  maxAbstractChars: number;
  maxBulletChars: number;
  maxContentChars: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxAbstractChars: 400, maxBulletChars: 400, maxContentChars: 32_000 };

/**
 * Sent as `response_format.json_schema` with `strict: true`. Strict structured output accepts only
 * a subset of JSON Schema (every property required, no additional properties, no length limits),
 * so lengths are checked by `parseEnrichmentReply`, not here.
 */
export const ENRICHMENT_JSON_SCHEMA = {
  type: 'object',
  properties: {
    l0_abstract: { type: 'string', description: 'One sentence (at most ~30 words) saying what the memory is about, in the language of the memory.' },
    l1_overview: { type: 'array', items: { type: 'string' }, description: '2 to 5 short bullet points with the key facts, without leading dashes.' },
    l2_content: { type: 'string', description: 'The full memory, cleaned up: fixed whitespace and typos, every fact kept, nothing added.' },
    category: { type: 'string', enum: [...CATEGORIES] },
    confidence: { type: 'number', description: 'How sure you are of the category and the abstract, from 0 to 1.' },
  },
  required: ['l0_abstract', 'l1_overview', 'l2_content', 'category', 'confidence'],
  additionalProperties: false,
} as const;

export function enrichmentMessages(input: EnrichmentInput, maxInputChars = 12_000): Array<{ role: 'system' | 'user'; content: string }> {
  const text = input.text.length > maxInputChars ? input.text.slice(0, maxInputChars) + '\n[…truncated]' : input.text;
  return [
    {
      role: 'system',
      content:
        'You organise an AI agent\'s long-term memories. For the memory you are given, reply with JSON only, matching the schema: ' +
        'l0_abstract (one sentence), l1_overview (2-5 bullet strings), l2_content (the cleaned full content, no new facts), ' +
        `category (one of: ${CATEGORIES.join(', ')}: profile = who the user is; preferences = likes and habits; entities = facts about things, people, projects; ` +
        'events = decisions and things that happened; cases = problems and their solutions; patterns = recurring ways of working), and confidence (0-1). ' +
        'Write in the language of the memory.',
    },
    { role: 'user', content: `Current category: ${input.category || 'unknown'}\n\nMemory:\n${text}` },
  ];
}

const nonEmpty = (max: number, what: string) => z.string().trim().min(1, `${what} is empty`).max(max, `${what} is longer than ${max} characters`);

function replySchema(limits: ReplyLimits) {
  const bullet = nonEmpty(limits.maxBulletChars, 'an l1_overview bullet');
  return z.object({
    l0_abstract: nonEmpty(limits.maxAbstractChars, 'l0_abstract'),
    // Models sometimes send the bullets as one string; accept that and split it into lines.
    l1_overview: z.union([z.array(bullet).min(1, 'l1_overview has no bullets').max(8, 'l1_overview has more than 8 bullets'), nonEmpty(limits.maxBulletChars * 8, 'l1_overview')]),
    l2_content: nonEmpty(limits.maxContentChars, 'l2_content'),
    category: z.string().transform((c, ctx) => {
      const mapped = LEGACY_CATEGORY_MAP[c.trim().toLowerCase()];
      if (!mapped) ctx.addIssue({ code: 'custom', message: `category ${JSON.stringify(c).slice(0, 40)} is not one of ${CATEGORIES.join(', ')}` });
      return mapped as Category;
    }),
    confidence: z.number().min(0).max(1).optional(),
  });
}

export interface ParsedReply {
  l0_abstract: string;
  l1_overview: string;
  l2_content: string;
  category: Category;
  confidence?: number;
}

export type ReplyParse = { ok: true; value: ParsedReply } | { ok: false; reason: string };

/**
 * Validates the model's message content. Tolerates a ```json fence around the object; everything
 * else that does not match is refused with a short reason (recorded as the fallback reason).
 */
export function parseEnrichmentReply(content: unknown, limits: ReplyLimits = DEFAULT_REPLY_LIMITS): ReplyParse {
  if (typeof content !== 'string') return { ok: false, reason: `reply has no text content (got ${content === null ? 'null' : typeof content})` };
  const unfenced = content.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/i, '$1');
  let data: unknown;
  try {
    data = JSON.parse(unfenced);
  } catch (err) {
    return { ok: false, reason: `invalid JSON in reply (${(err as Error).message.slice(0, 80)}): ${JSON.stringify(unfenced.slice(0, 60))}` };
  }
  const parsed = replySchema(limits).safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'reply'}: ${i.message}`);
    return { ok: false, reason: `reply does not match the schema (${issues.join('; ')})` };
  }
  const v = parsed.data;
  const bullets = (Array.isArray(v.l1_overview) ? v.l1_overview : v.l1_overview.split('\n'))
    .map((b) => b.replace(/^\s*(?:[-*•]|\d{1,2}[.)])\s*/, '').trim())
    .filter(Boolean)
    .slice(0, 5);
  return {
    ok: true,
    value: {
      l0_abstract: v.l0_abstract.replace(/\s+/g, ' '),
      l1_overview: bullets.map((b) => `- ${b}`).join('\n'),
      l2_content: v.l2_content,
      category: v.category,
      ...(v.confidence !== undefined ? { confidence: v.confidence } : {}),
    },
  };
}
