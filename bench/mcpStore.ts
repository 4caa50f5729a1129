// Single store through MCP: what an agent waits for when it calls memory_store on an idle store.
// `npm run bench:mcp-store [-- --sizes 1000,10000 --calls 150]` (needs the bundle: `node esbuild.config.mjs`).
// Protocol: for each size, a store of that many memories (the recall corpus written in bulk and
// compacted, bench/lib/corpus.ts), the real MCP server (dist/mcp.js) over stdio with the SDK client,
// 10 unmeasured calls, then `calls` memory_store calls one after another with distinct texts (the
// near-duplicate check, local embedding and one commit each, as an agent makes them). Latency is
// measured at the client. Result: bench/results/mcpStore.json.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { callTool, connectMcp } from '../test/helpers/mcp';
import { buildCorpusStore } from './lib/corpus';
import { copyStore, fixtureStore, numberArg, numberListArg, RESULTS_DIR, Scratch, summarize, writeFigures } from './lib/env';

async function main(): Promise<void> {
  const sizes = numberListArg('sizes', [1000, 10_000]);
  const calls = numberArg('calls', 150);
  const scratch = new Scratch();
  const runs: unknown[] = [];
  try {
    for (const n of sizes) {
      const fixture = await fixtureStore(`corpus-${n}`, scratch, (d) => buildCorpusStore(d, n));
      const dir = scratch.dir(`mcp-${n}`);
      copyStore(fixture.template, dir);
      const { client, close } = await connectMcp(dir);
      try {
        for (let i = 0; i < 10; i++) await callTool(client, 'memory_store', { text: `warm-up note ${i}: the nightly job rotates the ${i}th log file`, scope: 'global' });
        const ms: number[] = [];
        const loadStart = loadavg()[0];
        for (let i = 0; i < calls; i++) {
          const t0 = performance.now();
          const r = await callTool(client, 'memory_store', { text: `measured note ${i}: deploy window ${i % 7} moves to ${(i * 37) % 24}:00 for service ${i}`, scope: 'global' });
          ms.push(performance.now() - t0);
          if (!r.stored) throw new Error(`call ${i} did not store: ${JSON.stringify(r)}`);
        }
        runs.push({ rows: n, calls, latencyMs: summarize(ms.map((x) => Math.round(x * 10) / 10)), load: { start: loadStart, end: loadavg()[0] } });
        console.error(JSON.stringify(runs[runs.length - 1]));
      } finally {
        await close();
      }
    }
  } finally {
    scratch.remove();
  }
  writeFigures({ at: new Date().toISOString(), load: loadavg(), runs }, join(RESULTS_DIR, 'mcpStore.json'));
  console.log(JSON.stringify(runs));
}

main().catch((err) => { console.error(err); process.exit(1); });
