// `npm run chaos [-- --seconds 120]`: the long chaos run; prints the summary and exits 1 on any loss.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runChaos } from './controller';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '120' }, keep: { type: 'boolean', default: false } } });
const dir = mkdtempSync(join(tmpdir(), 'ml-chaos-'));
const started = Date.now();
runChaos({ dir, durationMs: Number(values.seconds) * 1000, plugins: 3, mcpClients: 2, cliWriters: 1, legacyRows: 2000, faultEveryMs: 1800, diskFullRate: 0.02, log: (l) => process.stderr.write(`[chaos ${((Date.now() - started) / 1000).toFixed(1)}s] ${l}\n`) })
  .then((s) => {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    const ok = s.lost === 0 && s.duplicated === 0 && s.mismatched.length === 0 && s.hung.length === 0 && s.verify.ok && s.deadLetters.replayFailed === 0;
    process.stderr.write(`\nchaos: ${s.operations} operations by ${s.processes} processes in ${(s.durationMs / 1000).toFixed(0)} s; ${s.kills} kills, ${s.stops} stops, ${s.ownerCorruptions} owner-record corruptions, ${s.restarts} restarts; ` +
      `acknowledged ${s.acknowledged.stores} stores, ${s.acknowledged.sets} updates, ${s.acknowledged.increments} increments; ${s.failedOperations} failed operations (reported to their callers), ${s.deadLetters.open} dead letters (${s.deadLetters.replayed} replayed); ` +
      `legacy upgraded ${s.legacy.upgraded}/${s.legacy.seeded}; lost = ${s.lost}, duplicated = ${s.duplicated}, mismatched = ${s.mismatched.length}, hung = ${s.hung.length}, verify ${s.verify.ok ? 'ok' : 'NOT OK'}\n`);
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    process.exit(ok ? 0 : 1);
  })
  .catch((err) => { process.stderr.write(`chaos failed: ${(err as Error).stack}\n`); process.exit(2); });
