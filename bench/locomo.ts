// Benchmark: recall on LoCoMo (long real conversations with questions whose evidence points at
// dialogue turns), by the protocol of bench/lib/locomo.ts, in the product's three modes on a real
// store on disk (local embedder, offline) beside a plain BM25 reference.
//
//   npm run bench:locomo -- --data FILE [--corpus turns|observations] [--distractors FILE --count N]
//
// The data is CC BY-NC: it stays outside the repository, the benchmark takes its path. Results go to
// bench/results/locomo-<corpus>[-d<N>].json and the LoCoMo section of BENCHMARKS.md.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryService } from '../src/core/memoryService';
import type { RecallMode } from '../src/core/retrieval/hybridSearch';
import { log, round1, round3, runBenchmark, summarize, type Summary, type TargetCheck } from './lib/env';
import { Bm25Reference, buildCorpus, buildLocomoStore, buildQuestions, distractorMemories, evaluate, loadLocomo, serviceRetriever, type LocomoCorpus, type ProtocolFigures, type ProtocolMemory } from './lib/locomo';
import { writeLocomoSection } from './lib/locomoReport';

const MODES: RecallMode[] = ['hybrid', 'vector', 'fts'];

/** Issue 12's targets on the dev split (hit@5 of hybrid). */
const TARGETS: Record<string, number> = { turns: 0.7, observations: 0.65, 'observations+distractors': 0.57 };

export interface LocomoModeFigures {
  hit5: number;
  hit10: number;
  r5: number;
  r10: number;
  byCategory: ProtocolFigures['byCategory'];
  latency: Summary;
  degraded: number;
}

export interface LocomoFigures {
  corpus: LocomoCorpus;
  memories: number;
  distractors: number;
  questions: number;
  buildMs: number;
  modes: Record<string, LocomoModeFigures>;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function round(f: ProtocolFigures): LocomoModeFigures {
  const byCategory = Object.fromEntries(Object.entries(f.byCategory).map(([k, v]) => [k, { questions: v.questions, hit5: round3(v.hit5), hit10: round3(v.hit10) }]));
  return { hit5: round3(f.hit5), hit10: round3(f.hit10), r5: round3(f.r5), r10: round3(f.r10), byCategory, latency: summarize(f.latencies), degraded: f.degraded };
}

async function main(): Promise<void> {
  const data = arg('data');
  if (!data) {
    console.error('usage: npm run bench:locomo -- --data FILE [--corpus turns|observations] [--distractors FILE --count N]');
    process.exit(2);
  }
  const corpusArg = arg('corpus');
  if (corpusArg && corpusArg !== 'turns' && corpusArg !== 'observations') {
    console.error(`--corpus must be turns or observations, got ${corpusArg}`);
    process.exit(2);
  }
  const corpora: LocomoCorpus[] = corpusArg ? [corpusArg as LocomoCorpus] : ['turns', 'observations'];
  const distractorFile = arg('distractors');
  const distractorTexts = distractorFile ? (JSON.parse(readFileSync(distractorFile, 'utf8')) as string[]) : [];
  const count = distractorFile ? Number(arg('count') ?? distractorTexts.length) : 0;
  if (!Number.isInteger(count) || count < 0) throw new Error(`--count must be a whole number, got ${arg('count')}`);
  const conversations = loadLocomo(data);
  const questions = buildQuestions(conversations);

  for (const corpus of corpora) {
    const name = `locomo-${corpus}${count ? `-d${count}` : ''}`;
    await runBenchmark(name, `LoCoMo recall, ${corpus}${count ? ` + ${count} distractors` : ''}`, async ({ scratch, parameters, notes }) => {
      const memories: ProtocolMemory[] = [...buildCorpus(conversations, corpus), ...distractorMemories(distractorTexts, count, conversations)];
      Object.assign(parameters, {
        data: data.split('/').slice(-1)[0],
        corpus,
        conversations: conversations.length,
        distractors: count ? { file: distractorFile!.split('/').slice(-1)[0], count, spread: 'round robin over the conversations\' scopes, dated like their sessions' } : undefined,
        recall: 'MemoryService.recall(question, { limit: 10, scopes: [conversation scope], mode, count: false }); local embedder (384 dims); no ANN index (flat vector search)',
        bm25: 'bench/lib/locomo.ts Bm25Reference: Okapi k1 1.2, b 0.75, lowercase words, NLTK English stop words, no stemming, statistics per scope',
      });
      const dir = join(scratch.dir(name), 'store');
      const t0 = Date.now();
      await buildLocomoStore(dir, memories);
      const buildMs = Date.now() - t0;
      log(`${name}: ${memories.length} memories stored and indexed in ${buildMs} ms; ${questions.length} questions`);
      // BENCH_RANKING (JSON of MemoryServiceOptions.ranking) measures a ranking variant without a rebuild.
      const ranking = process.env.BENCH_RANKING ? JSON.parse(process.env.BENCH_RANKING) : undefined;
      if (ranking) parameters.ranking = ranking;
      const memory = await MemoryService.open({ dir, defaultScopes: ['global'], vectorIndex: { auto: false }, storeOptions: { maintenance: { auto: false } }, ranking });
      const modes: Record<string, LocomoModeFigures> = {};
      try {
        for (const q of questions.slice(0, 10)) await memory.recall(q.question, { scopes: [q.scope], count: false }); // warm caches
        for (const mode of MODES) {
          modes[mode] = round(await evaluate(questions, memories, serviceRetriever(memory, mode), mode));
          log(`${name}: ${mode} hit@5 ${modes[mode]!.hit5} hit@10 ${modes[mode]!.hit10} R@5 ${modes[mode]!.r5} R@10 ${modes[mode]!.r10}; p50 ${modes[mode]!.latency.p50} ms`);
        }
      } finally {
        await memory.close();
      }
      modes.bm25 = round(await evaluate(questions, memories, new Bm25Reference(memories).retriever()));
      log(`${name}: bm25 hit@5 ${modes.bm25.hit5} hit@10 ${modes.bm25.hit10} R@5 ${modes.bm25.r5} R@10 ${modes.bm25.r10}`);

      const h = modes.hybrid!;
      const targets: TargetCheck[] = [];
      const key = count ? `${corpus}+distractors` : corpus;
      if (TARGETS[key] !== undefined) targets.push({ target: `LoCoMo ${corpus}${count ? ` + ${count} distractors` : ''}: hybrid hit@5 ≥ ${TARGETS[key]}`, measured: `hit@5 ${h.hit5}`, met: h.hit5 >= TARGETS[key]! });
      for (const other of ['fts', 'vector', 'bm25']) {
        targets.push({ target: `LoCoMo ${corpus}${count ? ` + ${count} distractors` : ''}: hybrid hit@5 ≥ ${other}`, measured: `${h.hit5} vs ${modes[other]!.hit5}`, met: h.hit5 >= modes[other]!.hit5 });
      }
      notes.push('Protocol: bench/lib/locomo.ts (one scope per conversation, categories 1–4 with evidence, hit@k and R@k over evidence turns, top 10).');
      notes.push(`Latency: one MemoryService.recall end to end (query embedding, search with the scope prefilter, fusion) on a ${memories.length}-row store; nearest-rank percentiles; the BM25 reference runs in memory (${round1(modes.bm25.latency.p50)} ms p50, not comparable).`);
      const figures: LocomoFigures = { corpus, memories: memories.length - count, distractors: count, questions: questions.length, buildMs, modes };
      return { figures: figures as unknown as Record<string, unknown>, targets };
    });
  }
  writeLocomoSection();
}

void main();
