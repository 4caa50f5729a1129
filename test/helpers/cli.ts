import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './repo';

export const CLI_PATH = join(repoRoot(), 'dist', 'cli.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as the one JSON document the CLI promises with --json. */
  json: any;
}

/** Runs the bundled `memory-lane` CLI in a real child process. */
/** `onStderr` sees stderr as it arrives (e.g. to act when the child reaches a failpoint). */
export function cli(args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number; onStderr?: (text: string) => void } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, LANCEDB_LOG: 'error', NO_COLOR: '1', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; options.onStderr?.(stderr); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`memory-lane ${args.join(' ')} timed out; stderr: ${stderr}`)); }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      let json: unknown;
      if (args.includes('--json')) {
        try { json = JSON.parse(stdout); } catch { json = undefined; }
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.end(options.input ?? '');
  });
}
