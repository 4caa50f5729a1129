import { spawn, type ChildProcess } from 'node:child_process';
import { isAbsolute, join } from 'node:path';

/**
 * Runs a worker script (bundled to out/test/...) in a real child process. Workers print one JSON
 * object per line on stdout; the helper collects them and the stderr text (failpoint markers, logs).
 */
export interface WorkerRun {
  child: ChildProcess;
  messages: unknown[];
  stderr: () => string;
  /** Resolves when a stdout message satisfying `match` arrives (or rejects when the worker exits first). */
  waitFor(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Resolves when stderr contains `text`. */
  waitForStderr(text: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A worker of test/integration/workers by name, or any bundled script by absolute path (bench/ workers). */
export function workerPath(name: string): string {
  if (isAbsolute(name)) return name;
  return join(__dirname, '..', 'integration', 'workers', `${name}.js`);
}

export interface WorkerSpawnOptions {
  /** Run as another user (tests of permissions when the suite runs as root). */
  uid?: number;
  gid?: number;
}

export function startWorker(name: string, args: Record<string, unknown>, env: Record<string, string> = {}, spawnOptions: WorkerSpawnOptions = {}): WorkerRun {
  const child = spawn(process.execPath, [workerPath(name), JSON.stringify(args)], {
    env: { ...process.env, LANCEDB_LOG: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...spawnOptions,
  });
  const messages: unknown[] = [];
  let err = '';
  let buf = '';
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try { messages.push(JSON.parse(line)); } catch { messages.push({ raw: line }); }
    }
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; notify(); });
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => { done = true; notify(); resolve({ code, signal }); }));
  const wait = (check: () => unknown, what: string, timeoutMs: number) => new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${err.slice(-2000)}`)), timeoutMs);
    const tick = () => {
      const hit = check();
      if (hit) { clearTimeout(timer); resolve(hit); return; }
      if (done) { clearTimeout(timer); reject(new Error(`worker ${name} exited before ${what}; stderr:\n${err.slice(-2000)}`)); return; }
      waiters.push(tick);
    };
    tick();
  });
  return {
    child,
    messages,
    stderr: () => err,
    waitFor: (match, timeoutMs = 60_000) => wait(() => messages.find(match), 'a matching message', timeoutMs),
    waitForStderr: (text, timeoutMs = 60_000) => wait(() => err.includes(text), JSON.stringify(text), timeoutMs),
    exited,
  };
}

/** Runs a worker to completion and returns its messages; rejects on a non-zero exit. */
export async function runWorker(name: string, args: Record<string, unknown>, env: Record<string, string> = {}, spawnOptions: WorkerSpawnOptions = {}): Promise<any[]> {
  const run = startWorker(name, args, env, spawnOptions);
  const { code, signal } = await run.exited;
  if (code !== 0) throw new Error(`worker ${name} exited with ${code ?? signal}; stderr:\n${run.stderr().slice(-3000)}`);
  return run.messages;
}

/** For worker scripts: parse the JSON argument and emit messages. */
export function workerArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

export function emit(message: unknown): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}
