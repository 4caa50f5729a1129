import { styleText } from 'node:util';
import { errorCode, errorMessage, MemoryLaneError, RemoteStoreError, ValidationError } from '../core/errors';

/**
 * The CLI's output contract: with --json, stdout carries exactly one JSON document and nothing
 * else; logs and progress go to stderr; exit 0 on success, 1 with a one-line reason on stderr.
 */
export class CliOutput {
  private written = false;

  constructor(readonly json: boolean, private readonly stdout: NodeJS.WriteStream = process.stdout, private readonly stderr: NodeJS.WriteStream = process.stderr) {}

  get colors(): boolean {
    return !this.json && !!this.stdout.isTTY && !process.env.NO_COLOR;
  }

  /** The command's result: the JSON document, or `human(result)` for people. */
  result<T>(value: T, human: (value: T) => string): void {
    if (this.written) throw new Error('a command must produce exactly one result');
    this.written = true;
    this.stdout.write(this.json ? JSON.stringify(value, null, 2) + '\n' : human(value).replace(/\n?$/, '\n'));
  }

  /** Progress and notes for people; never on stdout. */
  note(line: string): void {
    this.stderr.write(line + '\n');
  }

  failure(err: unknown): number {
    const reason = oneLine(err);
    this.stderr.write(`memory-lane: ${reason}\n`);
    if (this.json && !this.written) {
      this.written = true;
      const e = err as MemoryLaneError & { field?: string };
      this.stdout.write(JSON.stringify({ error: { code: errorCode(err), message: errorMessage(err), ...(err instanceof ValidationError ? { field: e.field } : {}), ...(err instanceof RemoteStoreError ? { setting: err.setting } : {}) } }) + '\n');
    }
    return 1;
  }

  style(format: Parameters<typeof styleText>[0], text: string): string {
    return this.colors ? styleText(format, text) : text;
  }
}

export function oneLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!.trim();
}

/** Aligned columns for people. */
export function table(rows: string[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  if (all.length === 0) return '';
  const widths = all[0]!.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const fmt = (r: string[]) => r.map((cell, c) => (c === r.length - 1 ? cell : (cell ?? '').padEnd(widths[c]!))).join('  ').trimEnd();
  return all.map(fmt).join('\n');
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : flat.slice(0, max - 1) + '…';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
