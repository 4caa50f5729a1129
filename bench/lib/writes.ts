/**
 * Ids and texts of the cross-process benchmark's stores. Every `sharedEvery`-th store of every
 * process uses the same client id and text (`shared-<i>`): the same memory stored by several
 * windows at once, as idempotent retries and re-imports do. It must land exactly once.
 */
export function storeIdAndText(proc: number, i: number, sharedEvery: number): { id: string; text: string; shared: boolean } {
  if (sharedEvery > 0 && i % sharedEvery === 0) {
    return { id: `shared-${String(i).padStart(5, '0')}`, text: `Shared memory ${i}: the deploy checklist for service ${i % 97} lives in docs/runbooks.`, shared: true };
  }
  return { id: `p${proc}-${String(i).padStart(5, '0')}`, text: `Process ${proc} note ${i}: the user prefers ${['tabs', 'spaces', 'small commits', 'squash merges'][i % 4]} in repository ${i % 53}.`, shared: false };
}

/** Every distinct id P processes × C stores write. */
export function expectedStoreIds(processes: number, count: number, sharedEvery: number): Set<string> {
  const ids = new Set<string>();
  for (let p = 0; p < processes; p++) for (let i = 0; i < count; i++) ids.add(storeIdAndText(p, i, sharedEvery).id);
  return ids;
}
