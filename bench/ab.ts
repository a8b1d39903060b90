/**
 * `npm run bench:ab -- <git ref> [eprescription | compositions | growth | startup]`: the benchmark of
 * <ref> against the working tree, in one sitting. <ref> is checked out into a temporary `git worktree`
 * (with its own `npm ci`); then `bench/run.ts` runs BENCH_AB_PAIRS times on each side, alternating
 * A B B A … so that the machine's drift over the sitting falls on both sides alike. Prints every
 * run's tables and, per scenario and measure, the median of each side and the working tree's change,
 * marking any drop of more than 10%. Every other BENCH_* variable reaches both sides unchanged.
 *
 * Both sides run the working tree's bench/ (BENCH_AB_HARNESS=current, the default), so they measure
 * the same scenarios against the same baselines; if that harness cannot run on <ref> (the code it
 * imports has changed), <ref> falls back to its own bench/ and only the scenarios both have are
 * compared. BENCH_AB_HARNESS=own uses each side's own bench/ from the start.
 *
 * Env: BENCH_AB_PAIRS (runs per side, 2), BENCH_AB_HARNESS (current | own), BENCH_AB_KEEP=1 (keep the
 * worktree, and reuse it on the next call for the same commit).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ref = process.argv[2];
if (!ref || ref.startsWith('-')) {
  process.stderr.write('usage: npm run bench:ab -- <git ref> [eprescription | compositions | growth | startup]\n');
  process.exit(64);
}
const only = process.argv[3] ?? process.env.BENCH_ONLY ?? '';
const PAIRS = Number(process.env.BENCH_AB_PAIRS ?? 2);
const HARNESS = process.env.BENCH_AB_HARNESS ?? 'current';
const KEEP = process.env.BENCH_AB_KEEP === '1';
const DROP = 0.1;

const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
const sha = git('rev-parse', '--verify', `${ref}^{commit}`);
const work = process.cwd();
const dir = path.join(tmpdir(), `esoz-ab-${sha.slice(0, 12)}`);

function prepare() {
  if (existsSync(path.join(dir, 'node_modules')) && git('-C', dir, 'rev-parse', 'HEAD') === sha) {
    process.stderr.write(`[ab] reusing ${dir}\n`);
    git('-C', dir, 'checkout', '--', 'bench');
    git('-C', dir, 'clean', '-fdq', '--', 'bench');
  } else {
    if (existsSync(dir)) git('worktree', 'remove', '--force', dir);
    git('worktree', 'add', '--detach', dir, sha);
    process.stderr.write(`[ab] npm ci in ${dir}\n`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (HARNESS === 'current') useHarness('current');
}

function useHarness(which: 'current' | 'own') {
  git('-C', dir, 'checkout', '--', 'bench');
  git('-C', dir, 'clean', '-fdq', '--', 'bench');
  if (which === 'current')
    for (const f of readdirSync(path.join(work, 'bench')))
      cpSync(path.join(work, 'bench', f), path.join(dir, 'bench', f), { recursive: true });
}

/** One `bench/run.ts` in `cwd`; its stdout (the tables), or undefined when it failed. */
function runBench(cwd: string, label: string): Promise<string | undefined> {
  process.stderr.write(`[ab] ${label}: bench/run.ts ${only} in ${cwd}\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...(only ? [only] : [])], {
    cwd,
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve(code === 0 ? out : undefined)));
}

interface Measure {
  key: string;
  measure: string;
  value: number;
  higherIsBetter: boolean;
}

/** The measures of every row of every markdown table in a run's output. */
export function measures(output: string): Measure[] {
  const out: Measure[] = [];
  const num = (s: string | undefined) => (s === undefined || s.trim() === '' ? NaN : Number(s.replace(/\*/g, '').trim()));
  const kinds: [RegExp, boolean][] = [
    [/^× one-/, true],
    [/^large ÷ small/, false],
    [/^ready s|^CPU s to ready|^RSS MB/, false],
  ];
  let header: string[] | undefined;
  for (const line of output.split('\n')) {
    if (!line.startsWith('|')) {
      header = undefined;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (!header) {
      header = cells;
      continue;
    }
    if (cells.every((c) => /^-+:?$/.test(c))) continue;
    const col = (name: string) => header!.indexOf(name);
    const scenario = cells[header.findIndex((h) => /scenario$/.test(h))];
    const key = col('backend') >= 0 ? `${cells[col('backend')]} | ${scenario}` : scenario;
    const row: Measure[] = [];
    header.forEach((h, i) => {
      const kind = kinds.find(([re]) => re.test(h));
      const v = num(cells[i]);
      if (kind && !Number.isNaN(v)) row.push({ key, measure: h, value: v, higherIsBetter: kind[1] });
    });
    // rows without a ratio: a rate (sustained creates) or a latency (create → DONE, job pickup)
    if (!row.length && num(cells[col('req/s')]) > 0)
      row.push({ key, measure: 'req/s', value: num(cells[col('req/s')]), higherIsBetter: true });
    else if (!row.length && num(cells[col('p50 ms')]) > 0)
      row.push({ key, measure: 'p50 ms', value: num(cells[col('p50 ms')]), higherIsBetter: false });
    out.push(...row);
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

prepare();
const runs: { side: 'ref' | 'work'; output: string }[] = [];
let harness = HARNESS;
try {
  for (let k = 0; k < PAIRS; k++) {
    for (const side of k % 2 === 0 ? (['ref', 'work'] as const) : (['work', 'ref'] as const)) {
      const label = side === 'ref' ? `${ref} (${sha.slice(0, 12)}), run ${k + 1}` : `working tree, run ${k + 1}`;
      let output = await runBench(side === 'ref' ? dir : work, label);
      if (output === undefined && side === 'ref' && harness === 'current') {
        process.stderr.write(`[ab] the working tree's bench/ does not run on ${ref}: using ${ref}'s own bench/ from now on\n`);
        harness = 'own';
        useHarness('own');
        output = await runBench(dir, label);
      }
      if (output === undefined) throw new Error(`bench/run.ts failed: ${label}`);
      runs.push({ side, output });
    }
  }
} finally {
  if (!KEEP) {
    git('worktree', 'remove', '--force', dir);
    git('worktree', 'prune');
  }
}

const lines: string[] = [];
for (const side of ['ref', 'work'] as const) {
  lines.push(
    `\n### ${side === 'ref' ? `${ref} (${sha.slice(0, 12)}; bench/ of ${harness === 'current' ? 'the working tree' : ref})` : 'working tree'}`,
  );
  runs.filter((r) => r.side === side).forEach((r, i) => lines.push(`\nRun ${i + 1}:\n${r.output.trim()}`));
}
const collect = (side: 'ref' | 'work') => {
  const m = new Map<string, { values: number[]; higherIsBetter: boolean }>();
  for (const r of runs.filter((x) => x.side === side))
    for (const x of measures(r.output)) {
      const id = `${x.key} | ${x.measure}`;
      const e = m.get(id) ?? { values: [], higherIsBetter: x.higherIsBetter };
      e.values.push(x.value);
      m.set(id, e);
    }
  return m;
};
const [a, b] = [collect('ref'), collect('work')];
lines.push(
  `\n### Change, working tree against ${ref} (median of ${PAIRS} run(s) each; positive = better)\n`,
  `| backend | scenario | measure | ${ref} | working tree | change | |`,
  '|---|---|---|---:|---:|---:|---|',
);
let drops = 0;
for (const [id, x] of a) {
  const y = b.get(id);
  if (!y) continue;
  const [va, vb] = [median(x.values), median(y.values)];
  const change = x.higherIsBetter ? vb / va - 1 : va / vb - 1;
  const flag = change < -DROP ? `**drop > ${DROP * 100}%**` : '';
  if (flag) drops++;
  const parts = id.split(' | ');
  const [backend, scenario, measure] = parts.length === 3 ? parts : ['', parts[0], parts[1]];
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  lines.push(
    `| ${backend} | ${scenario} | ${measure} | ${f(va)} | ${f(vb)} | ${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}% | ${flag} |`,
  );
}
const onlyOne = [...[...a.keys()].filter((k) => !b.has(k)), ...[...b.keys()].filter((k) => !a.has(k))];
if (onlyOne.length) lines.push(`\nMeasured on one side only (not compared): ${onlyOne.join('; ')}`);
lines.push(`\n${drops ? `${drops} measure(s) dropped by more than ${DROP * 100}%` : `No measure dropped by more than ${DROP * 100}%`}.`);
process.stdout.write(lines.join('\n') + '\n');
