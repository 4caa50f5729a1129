// Child processes for the extension-host cases: the bundled `memory-lane` CLI (dist/cli.js) run by the
// extension host's own Node, as a second writer on the same store. Failpoints (src/core/failpoints.ts)
// make a child hold the store lock at an exact point, instead of racing it with sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

export interface CliChild {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  /** Resolves when stderr shows `pattern` (e.g. the failpoint line), rejects if the child exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<CliResult>;
}

export class Cli {
  constructor(private readonly script: string, private readonly db: string) {}

  /** Starts `memory-lane --db <store> ...args`; `env` adds variables (MEMORY_LANE_FAILPOINTS…). */
  start(args: string[], env: Record<string, string> = {}): CliChild {
    const child = spawn(process.execPath, [this.script, '--db', this.db, ...args], {
      env: { ...process.env, MEMORY_LANE_FAILPOINTS: '', LANCEDB_LOG: 'error', ELECTRON_RUN_AS_NODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const listeners = new Set<() => void>();
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; for (const l of [...listeners]) l(); });
    const exited = new Promise<CliResult>((resolve) => {
      child.on('exit', (code) => {
        let json: unknown;
        try { json = JSON.parse(stdout); } catch { json = undefined; }
        for (const l of [...listeners]) l();
        resolve({ code, stdout, stderr, json });
      });
    });
    let done = false;
    void exited.then(() => { done = true; });
    return {
      child,
      pid: child.pid!,
      stderr: () => stderr,
      exited,
      waitFor: (pattern, timeoutMs = 30_000) => new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { listeners.delete(check); reject(new Error(`timed out waiting for ${pattern} on the CLI's stderr: ${stderr}`)); }, timeoutMs);
        const check = () => {
          if (pattern.test(stderr)) { clearTimeout(timer); listeners.delete(check); resolve(); }
          else if (done) { clearTimeout(timer); listeners.delete(check); reject(new Error(`the CLI exited before ${pattern}: ${stderr}`)); }
        };
        listeners.add(check);
        check();
      }),
    };
  }

  /** Runs to the end; throws with stderr unless it exits 0. */
  async run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const r = await this.start(args, env).exited;
    if (r.code !== 0) throw new Error(`memory-lane ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }
}

/** Writes `n` legacy memories (no smart metadata) as JSON Lines for `memory-lane import`. */
export function legacyJsonl(dir: string, name: string, n: number, scope = 'global'): string {
  const file = join(dir, name);
  const topics = [
    (i: number) => `User prefers tabs over spaces in project ${i}. They also like dark themes.`,
    (i: number) => `We decided to move service ${i} to Postgres. The migration took two days.`,
    (i: number) => `Fixed the crash in parser ${i} by escaping quotes. The bug came from user input.`,
    (i: number) => `Whenever build ${i} fails, rerun the flaky job first. It usually passes the second time.`,
  ];
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${name}-${i}`, text: topics[i % topics.length]!(i), category: ['fact', 'decision', 'other', 'preference'][i % 4], scope, importance: (i % 10) / 10 }));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}
