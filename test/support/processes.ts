/**
 * Processes and ports of the tests and benchmarks that run esoz-core as a child process: a free
 * port to start a server on, worker processes (`src/worker.ts`) to kill mid-job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the OS picks it; the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Send `signal` and wait until the child exited (a no-op for one that already has). */
export async function killProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** Worker processes a test starts: each with the given environment (silent logs unless it says otherwise), all killed at the end. */
export class WorkerProcesses {
  private readonly children: ChildProcess[] = [];

  spawn(env: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.children.push(child);
    return child;
  }

  /** SIGKILL every worker still running (the test's `after`). */
  async killAll(): Promise<void> {
    for (const c of this.children) await killProcess(c, 'SIGKILL');
  }
}
