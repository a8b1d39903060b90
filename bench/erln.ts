/**
 * ERLN hand-off scenarios (the in-process simulator): a FINAL МВТН's CREATE_ERLN_RECORD task from the
 * commit that writes it to SUCCESS when idle (p50 / p99 of 100 one at a time), and the tasks per second
 * a server sustains on a backlog of 1000 written at once.
 */
import type { Ready, Row } from './run.ts';

async function erln(ready: Ready, query: string): Promise<Record<string, number>> {
  const r = await fetch(`${ready.url}/bench/erln?${query}`, { method: 'POST' });
  const json = (await r.json()) as { data: Record<string, number> };
  if (r.status !== 200) throw new Error(`/bench/erln: ${r.status} ${JSON.stringify(json)}`);
  return json.data;
}

export async function erlnScenarios(ready: Ready, backend: string): Promise<Omit<Row, 'backend'>[]> {
  const log = (s: string) => process.stderr.write(`[${backend}] ${s}\n`);
  const idle = await erln(ready, 'n=100&sequential=1');
  log(`ERLN hand-off idle: p50 ${idle.p50.toFixed(1)} ms p99 ${idle.p99.toFixed(1)} ms (${idle.success}/${idle.n} SUCCESS)`);
  const backlog = await erln(ready, 'n=1000');
  log(
    `ERLN tasks sustained: ${backlog.perSecond.toFixed(0)}/s (${backlog.success}/${backlog.n} SUCCESS in ${backlog.seconds.toFixed(1)} s)`,
  );
  return [
    {
      scenario: 'ERLN hand-off: FINAL → task SUCCESS, idle (100 sequential)',
      rps: 0,
      p50: Math.round(idle.p50),
      p99: Math.round(idle.p99),
      non2xx: idle.n - idle.success,
      note: 'from the commit writing the CREATE_ERLN_RECORD task (as sign writes it) to SUCCESS, 2 ms polling; in-process simulator',
    },
    {
      scenario: 'ERLN tasks sustained (backlog of 1000)',
      rps: backlog.perSecond,
      p50: 0,
      p99: 0,
      non2xx: backlog.n - backlog.success,
      note: `${backlog.success} of ${backlog.n} SUCCESS in ${backlog.seconds.toFixed(1)} s; tasks written in one transaction, then drained by the server's workers`,
    },
  ];
}
