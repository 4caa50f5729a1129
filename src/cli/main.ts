import { runCli } from './program';

runCli(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`memory-lane: ${(err as Error).message}\n`); process.exitCode = 1; },
);
