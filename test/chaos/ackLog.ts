import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a chaos writer has attempted and what it has acknowledged. Each line is written and fsync'd
 * before the writer moves on, so a SIGKILL can lose at most the line being written (a torn tail,
 * tolerated on read), never an acknowledgement that was counted.
 */
export type AckRecord =
  | { kind: 'attempt'; op: 'inc'; id: string }
  | { kind: 'attempt'; op: 'set'; id: string; seq: number }
  | { kind: 'ack'; op: 'store'; id: string; text: string }
  | { kind: 'ack'; op: 'set'; id: string; seq: number }
  | { kind: 'ack'; op: 'inc'; id: string };

export class AckLog {
  private readonly fd: number;

  constructor(dir: string, writer: string) {
    this.fd = openSync(join(dir, `${writer}.jsonl`), 'a');
  }

  write(record: AckRecord): void {
    writeSync(this.fd, JSON.stringify(record) + '\n');
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function readAckLogs(dir: string): { records: AckRecord[]; tornLines: number } {
  const records: AckRecord[] = [];
  let tornLines = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try { records.push(JSON.parse(line) as AckRecord); } catch { tornLines++; }
    }
  }
  return { records, tornLines };
}
