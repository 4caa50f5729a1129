/**
 * Named seams where a test can make a process pause, throw or die at an exact point, so
 * cross-process races are reproduced deterministically instead of with sleeps (docs/lessons.md#failpoints-not-sleeps).
 *
 * Armed only through the environment variable MEMORY_LANE_FAILPOINTS, e.g.
 *   MEMORY_LANE_FAILPOINTS="lock.afterAcquire=pause:500;store.afterCommit=kill"
 * Actions: pause:<ms> (async wait), block:<ms> (blocks the event loop, as a sleeping laptop does),
 * hang (never continues), throw[:message], kill (SIGKILL self), once:<action> (first hit only),
 * p<probability>:<action> (fires on that fraction of hits, e.g. "p0.05:throw:ENOSPC: no space left").
 * Unarmed, `failpoint()` is a constant-time no-op; nothing in settings can reach it.
 */
type Action = { kind: 'pause' | 'block'; ms: number } | { kind: 'hang' | 'kill' } | { kind: 'throw'; message: string };

type Entry = { action: Action; once: boolean; probability: number };
const armed = parseFailpoints(process.env.MEMORY_LANE_FAILPOINTS ?? '');
const onceFired = new Set<string>();

/** Exported for tests; the process's own failpoints come from MEMORY_LANE_FAILPOINTS once, at load. */
export function parseFailpoints(spec: string): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (const part of spec.split(';').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let rest = part.slice(eq + 1).trim();
    const once = rest.startsWith('once:');
    if (once) rest = rest.slice(5);
    let probability = 1;
    const p = /^p(0?\.\d+|1(?:\.0+)?):/.exec(rest);
    if (p) {
      probability = Number(p[1]);
      rest = rest.slice(p[0].length);
    }
    const [kind, arg] = [rest.split(':')[0], rest.split(':').slice(1).join(':')];
    let action: Action | undefined;
    if (kind === 'pause' || kind === 'block') action = { kind, ms: Number(arg) || 0 };
    else if (kind === 'hang' || kind === 'kill') action = { kind };
    else if (kind === 'throw') action = { kind, message: arg || `failpoint ${name}` };
    if (action) map.set(name, { action, once, probability });
  }
  return map;
}

export const failpointsArmed = armed.size > 0;

export async function failpoint(name: string): Promise<void> {
  if (!failpointsArmed) return;
  const entry = armed.get(name);
  if (!entry) return;
  if (entry.probability < 1 && Math.random() >= entry.probability) return;
  if (entry.once) {
    if (onceFired.has(name)) return;
    onceFired.add(name);
  }
  const a = entry.action;
  // Tests wait for this line on stderr to know the process has reached the seam.
  process.stderr.write(`[failpoint] ${name} ${a.kind}\n`);
  switch (a.kind) {
    case 'pause': await new Promise((r) => setTimeout(r, a.ms)); return;
    case 'block': { const end = Date.now() + a.ms; while (Date.now() < end) { /* block the event loop on purpose */ } return; }
    // A ref'd timer keeps the process alive: a hung holder must keep holding, not exit and release.
    case 'hang': await new Promise(() => setInterval(() => {}, 1 << 30)); return;
    case 'kill': process.kill(process.pid, 'SIGKILL'); await new Promise(() => {}); return;
    case 'throw': throw new Error(a.message);
  }
}
