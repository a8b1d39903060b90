/**
 * Start-up of `npm start` on the embedded database: time from spawning the process to the first 200
 * of /health/ready, and its RSS after it has sat idle, for a fresh DATA_DIR (initdb, migrations, demo
 * data) and for a restart on the same DATA_DIR. The process is started with package.json's own
 * `start` command, so what is measured is what a user runs.
 *
 * Env: BENCH_STARTUP_RUNS (3 fresh + restart pairs), BENCH_STARTUP_IDLE (seconds idle before RSS, 10).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../test/support/processes.ts';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 3);
const IDLE_SECONDS = Number(process.env.BENCH_STARTUP_IDLE ?? 10);

export interface StartupRow {
  scenario: string;
  /** median over the runs */
  readyMs: number;
  rssMb: number;
  /** CPU seconds (user + system) the process used until ready: unlike wall time, it does not grow with the load of a shared machine */
  cpuS: number;
  runs: Run[];
}
interface Run {
  readyMs: number;
  rssMb: number;
  cpuS: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** package.json's `start` script as argv, `node` being this Node binary. */
function startCommand(): string[] {
  const script: string = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start;
  const argv = script.split(/\s+/);
  if (argv[0] !== 'node') throw new Error(`bench/startup.ts expects the start script to run node: ${script}`);
  return [process.execPath, ...argv.slice(1)];
}

/** user + system CPU of `pid` and of its children that have exited (the initdb child), seconds */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // after the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based, man 5 proc)
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks / 100;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startOnce(dataDir: string): Promise<Run> {
  const port = await freePort();
  const [cmd, ...args] = startCommand();
  const t0 = performance.now();
  const child = spawn(cmd, args, {
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    let readyMs = NaN;
    let cpuS = NaN;
    while (child.exitCode === null) {
      const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) {
        readyMs = performance.now() - t0;
        cpuS = cpuSeconds(child.pid!);
        break;
      }
      await sleep(25);
    }
    if (Number.isNaN(readyMs)) throw new Error(`npm start exited with ${child.exitCode} before it was ready`);
    await sleep(IDLE_SECONDS * 1000);
    return { readyMs, cpuS, rssMb: rssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function benchStartup(): Promise<StartupRow[]> {
  const fresh: Run[] = [];
  const restart: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'esoz-bench-start-'));
    try {
      fresh.push(await startOnce(dataDir));
      restart.push(await startOnce(dataDir));
      process.stderr.write(
        `[startup] run ${i + 1}: fresh ${fresh[i].readyMs.toFixed(0)} ms ${fresh[i].cpuS.toFixed(2)} CPU s ${fresh[i].rssMb.toFixed(0)} MB, ` +
          `restart ${restart[i].readyMs.toFixed(0)} ms ${restart[i].cpuS.toFixed(2)} CPU s ${restart[i].rssMb.toFixed(0)} MB\n`,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const row = (scenario: string, runs: Run[]): StartupRow => ({
    scenario,
    readyMs: median(runs.map((r) => r.readyMs)),
    cpuS: median(runs.map((r) => r.cpuS)),
    rssMb: median(runs.map((r) => r.rssMb)),
    runs,
  });
  return [row('npm start, fresh DATA_DIR → /health/ready', fresh), row('npm start, restart on the same DATA_DIR → /health/ready', restart)];
}

export function startupTable(rows: StartupRow[]): string {
  const out = [
    `| scenario | ready s (median) | CPU s to ready (median) | RSS MB after ${IDLE_SECONDS} s idle (median) | runs (ready s / CPU s / RSS MB) |`,
    '|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.scenario} | **${(r.readyMs / 1000).toFixed(2)}** | ${r.cpuS.toFixed(2)} | **${r.rssMb.toFixed(0)}** | ` +
        `${r.runs.map((x) => `${(x.readyMs / 1000).toFixed(2)} / ${x.cpuS.toFixed(2)} / ${x.rssMb.toFixed(0)}`).join(', ')} |`,
    );
  }
  return out.join('\n');
}
