/**
 * `--workers k`: one machine runs k worker processes, each the same command as a rank of its own
 * (the machine's rank r of n becomes ranks r, r + n, ..., r + (k-1)n of n*k, so the machine's parts
 * are exactly the union of its workers' parts, whatever k is). Workers are child processes of the
 * CLI; their stderr is passed through with a `[worker i]` prefix. The parent asks them to stop over
 * the IPC channel on SIGINT/SIGTERM, and a worker whose parent dies (even by SIGKILL) stops by
 * itself when the channel closes, so no orphan keeps writing.
 *
 * Also here: the stop requests a job listens to (signals, and the parent's IPC message).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import type { Logger } from '../runtime/Logger.js';

/** The IPC message a parent sends to ask a worker to stop at a clean point. */
export const STOP_MESSAGE = 'prefrank:stop';

/** Set in a worker's environment by its parent: `i/k`. */
export const WORKER_ENV = 'PREFRANK_WORKER';

/** Whether this process is a --workers worker (its parent writes the manifest and summary). */
export function isWorkerProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return typeof process.send === 'function' && Boolean(env[WORKER_ENV]);
}

/**
 * Calls `onStop(reason)` on SIGINT, SIGTERM, a stop message from a parent process, or the loss of
 * the parent (its IPC channel closes). Returns the function that removes the listeners. The IPC
 * channel is unref'd so it never keeps a finished worker alive.
 */
export function onStopRequest(onStop: (reason: string) => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => onStop(sig);
  const onMessage = (m: unknown) => {
    if (m === STOP_MESSAGE) onStop('stop requested by the parent process');
  };
  const onDisconnect = () => onStop('parent process went away');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ipc = typeof process.send === 'function';
  if (ipc) {
    // A worker's stderr is a pipe to its parent: when the parent dies, writing a log line must not
    // crash the worker (EPIPE) before it has stopped cleanly.
    if (process.stderr.listenerCount('error') === 0) process.stderr.on('error', () => undefined);
    process.on('message', onMessage);
    process.on('disconnect', onDisconnect);
    (process.channel as { unref?: () => void } | undefined)?.unref?.();
  }
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ipc) {
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
    }
  };
}

/** Removes `--flag v`, `--flag=v` (and the camelCase spelling yargs also accepts) from argv. */
export function stripFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const names = new Set(flags.flatMap((f) => [f, f.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(=.*)?$/.exec(argv[i]);
    if (m && names.has(m[1])) {
      // These flags take a number; only a number after them is their value.
      if (m[2] === undefined && i + 1 < argv.length && /^-?\d/.test(argv[i + 1])) i++;
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

export interface WorkerPlan {
  /** Worker processes to start on this machine. */
  readonly workers: number;
  /** This machine's rank and world size (from flags or the scheduler). */
  readonly rank: number;
  readonly worldSize: number;
  /**
   * The flag of the command that sets its compute threads (e.g. 'threads' for the ONNX session), if
   * it has one: each worker gets floor(threads / workers), at least 1.
   */
  readonly threadsFlag?: string;
  /** Threads to split between the workers (default: the machine's cores). */
  readonly threads?: number;
  /** Part indices left to do on this machine: a worker with none of them is not started. */
  readonly todo?: readonly number[];
}

/** The global rank of worker `i`: the machine's parts are exactly the union of its workers'. */
export function workerRank(plan: Pick<WorkerPlan, 'rank' | 'worldSize'>, i: number): number {
  return plan.rank + i * plan.worldSize;
}

/** The CLI arguments of worker `i`: the parent's own, with rank, world size and threads set. */
export function workerArgv(argv: readonly string[], plan: WorkerPlan, i: number, cores = availableParallelism()): string[] {
  const strip = ['workers', 'rank', 'world-size', ...(plan.threadsFlag ? [plan.threadsFlag] : [])];
  const args = [...stripFlags(argv, strip), '--rank', String(workerRank(plan, i)), '--world-size', String(plan.worldSize * plan.workers)];
  if (plan.threadsFlag) args.push(`--${plan.threadsFlag}`, String(Math.max(1, Math.floor((plan.threads ?? cores) / plan.workers))));
  return args;
}

export interface WorkerExit {
  readonly worker: number;
  readonly rank: number;
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface WorkersOutcome {
  readonly exits: WorkerExit[];
  /** A stop was requested (signal) and the workers were asked to stop. */
  readonly interrupted: boolean;
  /** Workers that ended other than by success or a requested stop. */
  readonly crashed: WorkerExit[];
}

/** Prefixes a worker's log line: text lines get `[worker i] `, JSON lines get a "worker" field. */
export function prefixLine(line: string, worker: number): string {
  if (line.startsWith('{') && line.endsWith('}')) return `{"worker":${worker},${line.slice(1)}`;
  return `[worker ${worker}] ${line}`;
}

/**
 * Starts `plan.workers` copies of this CLI invocation as worker ranks and waits for all of them.
 * `argv` is the parent's arguments after `node main.js` (process.argv.slice(2)).
 */
export async function runWorkers(plan: WorkerPlan, argv: readonly string[], log: Logger): Promise<WorkersOutcome> {
  const children: { proc: ChildProcess; worker: number; rank: number; exit: Promise<WorkerExit> }[] = [];
  let interrupted = false;
  let forced = false;
  const dispose = onStopRequest((reason) => {
    if (interrupted) {
      // A second request: stop now. The killed workers' temporary files are cleaned by the rerun.
      if (!forced) log.warn(`${reason} again: killing the workers`);
      forced = true;
      for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      return;
    }
    interrupted = true;
    log.warn(`${reason}: asking ${children.length} worker(s) to stop at a clean point`);
    for (const c of children) if (c.proc.connected) c.proc.send(STOP_MESSAGE, () => undefined);
  });
  try {
    const world = plan.worldSize * plan.workers;
    for (let i = 0; i < plan.workers; i++) {
      const rank = workerRank(plan, i);
      // After a crash, only the workers that have parts left are started again.
      if (plan.todo && !plan.todo.some((p) => p % world === rank)) continue;
      const args = workerArgv(argv, plan, i);
      const proc = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
        env: { ...process.env, [WORKER_ENV]: `${i}/${plan.workers}` },
      });
      const lines = createInterface({ input: proc.stderr!, crlfDelay: Infinity });
      lines.on('line', (l) => process.stderr.write(prefixLine(l, i) + '\n'));
      const closed = new Promise<void>((r) => lines.once('close', r));
      const exit = new Promise<WorkerExit>((resolve) => {
        proc.once('error', (err) => {
          log.error(`worker ${i} could not start: ${err.message}`);
          resolve({ worker: i, rank, pid: proc.pid, code: 1, signal: null });
        });
        // 'close' waits for the worker's stderr to drain, so its last lines come before ours.
        proc.once('close', (code, signal) => void closed.then(() => resolve({ worker: i, rank, pid: proc.pid, code, signal })));
      });
      children.push({ proc, worker: i, rank, exit });
    }
    const idle = plan.workers - children.length;
    log.info(`started ${children.length} worker process(es)${idle ? ` (${idle} more have nothing left to do)` : ''}`, { pids: children.map((c) => c.proc.pid).join(',') });
    const exits = await Promise.all(children.map((c) => c.exit));
    // 130 is a worker's own "stopped at a clean point"; anything else non-zero is a failure.
    const crashed = exits.filter((e) => e.code !== 0 && !(interrupted && (e.code === 130 || e.signal !== null)));
    return { exits, interrupted, crashed };
  } finally {
    dispose();
  }
}
