import type { UpgradeProgress } from '../../core/upgrade';

// How durations and upgrade progress read in the views, the status bar and notifications. Pure
// functions (no 'vscode'), unit-tested in test/unit/extension.text.test.ts.

/** `840 ms`, `3.2 s`, `14 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Percent of the candidates done (written, skipped or failed); 100 once the run is done. */
export function percentDone(p: UpgradeProgress): number {
  if (p.phase === 'done') return 100;
  if (p.candidates === 0) return 0;
  return Math.min(100, Math.floor(((p.written + p.skipped + p.failed) / p.candidates) * 100));
}

/** `▰▰▰▰▱▱▱▱▱▱ 42%` */
export function progressBar(percent: number, cells = 10): string {
  const filled = Math.max(0, Math.min(cells, Math.round((percent / 100) * cells)));
  return `${'▰'.repeat(filled)}${'▱'.repeat(cells - filled)} ${percent}%`;
}

/** `write · 450/1000 · 820 rows/s · ETA 2.0 s` */
export function progressMessage(p: UpgradeProgress): string {
  const parts: string[] = [p.phase, `${p.written + p.skipped + p.failed}/${p.candidates}`];
  if (p.rate > 0) parts.push(`${Math.round(p.rate)} rows/s`);
  if (p.etaMs !== undefined) parts.push(`ETA ${formatDuration(p.etaMs)}`);
  if (p.failed) parts.push(`${p.failed} failed`);
  return parts.join(' · ');
}
