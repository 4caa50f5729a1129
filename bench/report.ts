// `npm run bench:report`: rewrites BENCHMARKS.md from the result files already in bench/results/.
import { log } from './lib/env';
import { writeReport } from './lib/report';

log(`report → ${writeReport()}`);
