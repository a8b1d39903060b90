/**
 * The `esoz` CLI (docs/cli.md) as a user runs it: the bin's launcher as a child process, against a real
 * esoz-core (demo data, an admin key) over real HTTP. Each command's happy path and its main errors (exit
 * code, the one line on stderr), --help, `sms --follow` printing an SMS that arrives, `sign` output the
 * sign route accepts, `esoz start` printing the banner.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADMIN_KEY, call, startTestServer, waitFor, type CallResult, type TestServer } from './support/harness.ts';
import { demoDraft } from './support/demo.ts';
import { freePort, killProcess } from './support/processes.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; bin: { esoz: string } };
/** The launcher package.json's "bin" names: what `esoz` runs. */
const launcher = manifest.bin.esoz;

let server: TestServer;
let demo: (method: string, path: string, body?: unknown, token?: string) => Promise<CallResult>;
let dir: string;

/** The environment of a CLI run: the connection to the test server unless `env` says otherwise (undefined removes). */
function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', BASE_URL: server.url, ADMIN_KEY };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function spawnEsoz(args: string[], env: Record<string, string | undefined> = {}) {
  return spawn(process.execPath, [launcher, ...args], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs `esoz …args` to its end (stdin: `input`, or nothing). */
function esoz(args: string[], env: Record<string, string | undefined> = {}, input = '') {
  const child = spawnEsoz(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(input);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

/** The lines of `text` that say something. */
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** An error of the CLI: its exit code and exactly these lines on stderr. */
async function fails(args: string[], code: number, stderr: string[], env: Record<string, string | undefined> = {}) {
  const r = await esoz(args, env);
  assert.deepEqual({ code: r.code, stderr: lines(r.stderr) }, { code, stderr }, r.stdout);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return r;
}

const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

before(async () => {
  server = await startTestServer({ env: { DEMO_DATA: 'on', SIGNATURE_TRUST: 'any-test-ca' } });
  const creds = server.runtime.sandbox?.demo;
  assert.ok(creds, 'the demo credentials');
  demo = (method, p, body, token = creds.token) => call(server.url, method, p, { token, apiKey: creds.secret, body });
  dir = mkdtempSync(path.join(tmpdir(), 'esoz-cli-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server?.close();
});

const personExists = async (id: string) =>
  (await server.runtime.platform.db.query('SELECT 1 FROM persons WHERE id = $1', [id])).rowCount === 1;

describe('--help and --version', () => {
  test('esoz --help names every command and the connection variables; esoz --version is the package version', async () => {
    const help = await esoz(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['start', 'worker', 'reset', 'fixtures', 'token', 'sign', 'sms']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'), command);
    }
    assert.match(help.stdout, /--url or BASE_URL \(default http:\/\/localhost:4000\),\n--admin-key or ADMIN_KEY/);
    const version = await esoz(['--version']);
    assert.deepEqual([version.code, version.stdout], [0, `${manifest.version}\n`]);
  });

  test('every command has --help with its own options', async () => {
    const expected: [string[], RegExp[]][] = [
      [['start'], [/^Usage: esoz start/m, /PORT, HOST, DATA_DIR/]],
      [['worker'], [/^Usage: esoz worker/m, /DATABASE_URL=postgres/]],
      [['reset'], [/^Usage: esoz reset/m, /--empty/, /env: BASE_URL/, /env: ADMIN_KEY/]],
      [
        ['fixtures', 'load'],
        [/^Usage: esoz fixtures load \[options\] <file\.json>/m, /env: ADMIN_KEY/],
      ],
      [['token'], [/--scopes <list>/, /--client-id <id>/, /--employee-id <id>/, /--expires-in <seconds>/, /composition:read/]],
      [['sign'], [/^Usage: esoz sign \[options\] <file\.json>/m, /--tax-id <id>/, /--body/, new RegExp(DEMO.doctorTaxId)]],
      [['sms'], [/--follow/, /--phone <number>/]],
    ];
    for (const [command, patterns] of expected) {
      const r = await esoz([...command, '--help']);
      assert.equal(r.code, 0, command.join(' '));
      for (const p of patterns) assert.match(r.stdout, p, `${command.join(' ')}: ${p}`);
    }
  });

  test('an unknown command or a missing option: one line, exit 2', async () => {
    await fails(['bogus'], 2, ["esoz: unknown command 'bogus' (--help shows the usage)"]);
    await fails(['token'], 2, ["esoz: required option '--scopes <list>' not specified (--help shows the usage)"]);
    await fails(
      ['sms'],
      2,
      [
        `esoz: option '--url <url>' value 'nope' from env 'BASE_URL' is invalid. "nope" is not a URL (e.g. http://localhost:4000) (--help shows the usage)`,
      ],
      {
        BASE_URL: 'nope',
      },
    );
  });
});

describe('connection errors (every admin command)', () => {
  test('no esoz-core at the URL: one line saying to start it or set BASE_URL, exit 3', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await fails(
      ['sms'],
      3,
      [`esoz: cannot reach esoz-core at ${url} (ECONNREFUSED): start it with \`esoz start\` or set BASE_URL (or --url)`],
      {
        BASE_URL: url,
      },
    );
  });

  test('no admin key is checked before the server is reached: exit 2 naming ADMIN_KEY', async () => {
    // a URL nothing listens on: the admin key message proves nothing was sent
    await fails(
      ['reset'],
      2,
      ['esoz: no admin key: set ADMIN_KEY (or --admin-key) to the "admin key (x-admin-key)" that `esoz start` prints'],
      {
        ADMIN_KEY: undefined,
        BASE_URL: `http://127.0.0.1:${await freePort()}`,
      },
    );
  });

  test('a wrong admin key: exit 1 naming ADMIN_KEY; --admin-key wins over ADMIN_KEY', async () => {
    const message = `esoz: esoz-core at ${server.url} refused the admin key (401 Invalid admin key): set ADMIN_KEY (or --admin-key) to the "admin key (x-admin-key)" that \`esoz start\` prints`;
    await fails(['sms'], 1, [message], { ADMIN_KEY: 'wrong' });
    await fails(['sms', '--admin-key', 'wrong'], 1, [message]);
    assert.equal((await esoz(['sms', '--admin-key', ADMIN_KEY], { ADMIN_KEY: 'wrong' })).code, 0);
  });

  test('a URL that is not esoz-core: exit 1, asks whether BASE_URL is right', async () => {
    const other = createServer((socket) =>
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot here\n'),
    );
    const port = await new Promise<number>((resolve) =>
      other.listen(0, '127.0.0.1', () => resolve((other.address() as { port: number }).port)),
    );
    try {
      await fails(
        ['sms'],
        1,
        [
          `esoz: reading the SMS inbox failed: http://127.0.0.1:${port} answered GET /admin/sms?page_size=20 with 404 but not as esoz-core does: is BASE_URL (or --url) the esoz-core server?`,
        ],
        { BASE_URL: `http://127.0.0.1:${port}` },
      );
    } finally {
      other.close();
    }
  });
});

describe('esoz reset', () => {
  test('back to the demo data: what was added is gone; a line at the start and one at the end with the time', async () => {
    const extra = randomUUID();
    await server.fixtures({ persons: [{ id: extra }] });
    const r = await esoz(['reset']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(lines(r.stdout).length, 2, r.stdout);
    assert.match(lines(r.stdout)[0], new RegExp(`^resetting the sandbox at ${server.url} to the demo data…$`));
    assert.match(lines(r.stdout)[1], /^reset done: demo data loaded; clients and tokens kept \(\d+\.\d s\)$/);
    assert.equal(await personExists(extra), false);
    assert.equal(await personExists(DEMO.personOtpId), true);
  });

  test('--empty leaves no demo data; the demo token still works (clients and tokens kept)', async () => {
    const r = await esoz(['reset', '--empty']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /to empty…\nreset done: sandbox empty; clients and tokens kept \(\d+\.\d s\)\n$/);
    assert.equal(await personExists(DEMO.personOtpId), false);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 404);
    // the demo client is kept, its doctor is not: say what to pass instead of a bare 422
    const token = await esoz(['token', '--scopes', 'medication_request:details']);
    assert.equal(token.code, 1);
    assert.match(token.stderr, /^esoz: the demo doctor is not on \S+ \(reset --empty\?\): pass --employee-id .* or --employee-id none\n$/);
    const bare = await esoz(['token', '--scopes', 'medication_request:details', '--employee-id', 'none']);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(bare.stdout, /^[0-9a-f]{32}\n$/);
    assert.equal((await esoz(['reset'])).code, 0);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 200);
  });
});

describe('esoz fixtures load', () => {
  test('loads the file: progress lines with counts and time', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const f = file('persons.json', JSON.stringify({ persons: [{ id: a }, { id: b }] }));
    const r = await esoz(['fixtures', 'load', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lines(r.stdout).length, 2, r.stdout);
    assert.equal(lines(r.stdout)[0], `loading the fixtures of ${f} into ${server.url}: persons 2…`);
    assert.match(lines(r.stdout)[1], /^fixtures loaded: persons 2 \(\d+\.\d s\)$/);
    assert.ok((await personExists(a)) && (await personExists(b)));
  });

  test('422: the invalid entries, one a line, under the error line; exit 1', async () => {
    const f = file('bad.json', JSON.stringify({ persons: [{ id: randomUUID() }, { id: 'x' }, { id: 'y' }] }));
    await fails(['fixtures', 'load', f], 1, [
      `esoz: loading the fixtures of ${f} failed: 422 validation_failed, 2 invalid entries:`,
      '  $.persons[1].id: expected "x" to be a valid uuid (format)',
      '  $.persons[2].id: expected "y" to be a valid uuid (format)',
    ]);
  });

  test('422 of a row the database refuses: its entry; the valid rows of the file are not loaded either', async () => {
    const good = randomUUID();
    const f = file(
      'dangling.json',
      JSON.stringify({
        persons: [{ id: good }],
        encounters: [
          {
            id: randomUUID(),
            person_id: randomUUID(),
            episode_id: DEMO.episodeId,
            legal_entity_id: DEMO.legalEntityId,
            employee_id: DEMO.doctorEmployeeId,
          },
        ],
      }),
    );
    const r = await esoz(['fixtures', 'load', f]);
    assert.equal(r.code, 1);
    const err = lines(r.stderr);
    assert.equal(err[0], `esoz: loading the fixtures of ${f} failed: 422 validation_failed, 1 invalid entry:`);
    assert.match(err[1], /^ {2}\$\.encounters\[0\]\.person_id: .+/);
    assert.equal(err.length, 2, r.stderr);
    assert.equal(await personExists(good), false);
  });

  test('a file that is missing or not JSON is refused before anything is sent (even without an admin key): exit 2', async () => {
    const missing = path.join(dir, 'missing.json');
    await fails(['fixtures', 'load', missing], 2, [`esoz: cannot read ${missing}: no such file`], { ADMIN_KEY: undefined });
    const notJson = file('not.json', '{"persons": [');
    const r = await fails(['fixtures', 'load', notJson], 2, [`esoz: ${notJson} is not JSON (Unexpected end of JSON input)`]);
    assert.equal(r.stdout, '');
    const list = file('list.json', '[]');
    await fails(['fixtures', 'load', list], 2, [`esoz: ${list} is not a JSON object of fixture kinds ({"persons": [...], ...})`]);
  });
});

describe('esoz token', () => {
  test('a token of the demo client with the scopes named: it works for them and is refused for others', async () => {
    const r = await esoz(['token', '--scopes', 'medication_request:details,composition:read']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(r.stdout, /^[0-9a-f]{32}\n$/);
    assert.match(
      r.stderr,
      new RegExp(
        `^esoz: token of client ${DEMO.clientId}, scopes medication_request:details,composition:read, expires \\S+; use it with: export TOKEN=${token}\\n$`,
      ),
    );
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`, undefined, token)).status, 200);
    assert.equal((await demo('PATCH', `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`, undefined, token)).status, 403);
  });

  test('--export prints the export line; --expires-in -1 gives an expired token (401)', async () => {
    const r = await esoz(['token', '--scopes', 'all', '--expires-in', '-1', '--export']);
    assert.equal(r.code, 0, r.stderr);
    const token = /^export TOKEN=([0-9a-f]{32})\n$/.exec(r.stdout)?.[1];
    assert.ok(token, r.stdout);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`, undefined, token)).status, 401);
  });

  test('an unknown scope: the 422 entry; an unknown client: one line; a bad --expires-in: exit 2', async () => {
    await fails(['token', '--scopes', 'composition:read,bogus'], 1, [
      'esoz: issuing the token failed: 422 validation_failed, 1 invalid entry:',
      '  $.scopes[1]: unknown scope bogus (inclusion)',
    ]);
    const client = randomUUID();
    await fails(['token', '--scopes', 'all', '--client-id', client], 1, [
      `esoz: no MIS client ${client} on ${server.url}: create it with POST /admin/clients, or leave out --client-id for the demo client`,
    ]);
    await fails(['token', '--scopes', 'all', '--expires-in', 'soon'], 2, [
      `esoz: option '--expires-in <seconds>' argument 'soon' is invalid. "soon" is not a whole number of seconds (--help shows the usage)`,
    ]);
  });
});

/** A PRELIMINARY МВТН of the demo patient on an encounter of its own (test/support/demo.ts). */
async function draft(): Promise<{ id: string; document: unknown }> {
  const d = await demoDraft(server, demo);
  assert.equal(d.job.body.data.status, 'DONE', d.job.text);
  return d;
}

const pollJob = (id: string) =>
  waitFor(async () => {
    const j = await demo('GET', `/api/patients/composition/job/${id}`);
    return j.body.data.status !== 'PENDING' && j;
  });

describe('esoz sign', () => {
  test('--body output is the body the sign route takes: the sign job is DONE', async () => {
    const d = await draft();
    const f = file('composition.json', JSON.stringify(d.document));
    const r = await esoz(['sign', f, '--tax-id', DEMO.doctorTaxId, '--body']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\{"data":"[A-Za-z0-9+/]+=*"\}\n$/);
    const patched = await call(server.url, 'PATCH', `/api/patients/composition/${d.id}/sign`, {
      token: server.runtime.sandbox!.demo!.token,
      apiKey: server.runtime.sandbox!.demo!.secret,
      rawBody: r.stdout,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(patched.status, 202, patched.text);
    const job = await pollJob(patched.body.data.id);
    assert.equal(job.body.data.status, 'DONE', job.text);
  });

  test('without --body: the bare base64 CMS; standard input with -', async () => {
    const r = await esoz(['sign', '-', '--tax-id', DEMO.doctorTaxId], {}, '{"a":1}');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[A-Za-z0-9+/]+=*\n$/);
    // CMS SignedData carries the signed text itself (attached)
    assert.ok(Buffer.from(r.stdout.trim(), 'base64').includes('{"a":1}'));
  });

  test('a bad tax id: the 422 entry; no --tax-id: exit 2', async () => {
    const f = file('small.json', '{}');
    await fails(['sign', f, '--tax-id', '123'], 1, [
      `esoz: signing ${f} failed: 422 validation_failed, 1 invalid entry:`,
      '  $.tax_id: string does not match pattern "^[0-9]{10}$|^[А-ЯІЇЄҐ]{2}[0-9]{6}$|^[0-9]{9}$" (format)',
    ]);
    // the options are checked before the file: a missing file still gets the option's message
    await fails(['sign', path.join(dir, 'missing.json')], 2, [
      "esoz: required option '--tax-id <id>' not specified (--help shows the usage)",
    ]);
  });
});

describe('esoz sms', () => {
  const resend = () => demo('PATCH', `/api/medication_requests/${DEMO.mrThirdPersonId}/actions/resend`);

  test('the inbox, newest last, one SMS a line; --phone filters', async () => {
    assert.equal((await esoz(['reset'])).code, 0);
    assert.equal((await demo('PATCH', `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`)).status, 200);
    assert.equal((await resend()).status, 200);
    const r = await esoz(['sms']);
    assert.equal(r.code, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 2, r.stdout);
    assert.match(
      out[0],
      new RegExp(`^\\S+Z  \\+380501112233  \\S+ +medication_request ${DEMO.mrOtpId}  Ваш рецепт: .+ Код підтвердження: \\d+$`),
    );
    assert.match(out[1], new RegExp(`\\+380503334455 .* ${DEMO.mrThirdPersonId}  `));
    const one = await esoz(['sms', '--phone', '+380503334455']);
    assert.deepEqual(
      lines(one.stdout).map((l) => l.includes(DEMO.mrThirdPersonId)),
      [true],
    );
    const json = await esoz(['sms', '--json', '-n', '1']);
    assert.equal(json.code, 0, json.stderr);
    const last = JSON.parse(json.stdout) as { phone_number: string; entity_id: string; body: string; status: string };
    assert.deepEqual([last.phone_number, last.entity_id], ['+380503334455', DEMO.mrThirdPersonId]);
    assert.match(last.body, /Код підтвердження: \d+$/);
  });

  test('--follow prints the newest, then each SMS that arrives (newest last); Ctrl-C (SIGINT) ends it with exit 0', async () => {
    assert.equal((await esoz(['reset'])).code, 0);
    const resendOtp = () => demo('PATCH', `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`);
    assert.equal((await resendOtp()).status, 200);
    assert.equal((await resend()).status, 200);
    // both delivered: a status change of the older one would rightly be printed
    const inbox = await waitFor(async () => {
      const r = await server.call('GET', '/admin/sms', { admin: true });
      return r.body.data.length === 2 && r.body.data.every((s: { status: string }) => s.status !== 'PENDING') && r.body.data;
    });
    const [newest, older] = inbox.map((s: { id: string }) => s.id);
    const child = spawnEsoz(['sms', '--follow', '--json', '-n', '1', '--interval', '100']);
    child.stdin.end();
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ids = () => lines(out).map((l) => (JSON.parse(l) as { id: string }).id);
    try {
      // once it has printed the newest, its first fetch is done: what comes next is followed
      await waitFor(async () => ids().includes(newest), 30_000);
      assert.equal((await resendOtp()).status, 200);
      await waitFor(async () => ids().length >= 2 && ids().at(-1) !== newest && ids(), 30_000);
      // a few more polls: the older SMS (before -n 1) is never printed
      await new Promise((r) => setTimeout(r, 500));
      const printed = ids();
      assert.equal(printed[0], newest);
      assert.equal(printed.includes(older), false, out);
      const arrived = printed.at(-1);
      assert.ok(arrived && ![newest, older].includes(arrived));
      assert.equal(JSON.parse(lines(out).at(-1)!).entity_id, DEMO.mrOtpId);
      // more SMS at once than a page holds (100): every one of them is printed, none skipped
      const burst = (
        await server.runtime.platform.db.query<{ id: string }>(
          `INSERT INTO sms_outbox(phone_number, body, entity_name, entity_id)
           SELECT '+380671234567', 'burst ' || i, 'composition', 'burst' FROM generate_series(1, 250) i RETURNING id`,
        )
      ).rows.map((r) => r.id);
      await waitFor(async () => burst.every((id) => ids().includes(id)), 30_000);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.equal(err, '');
    } finally {
      await killProcess(child, 'SIGKILL');
    }
  });
});

describe('esoz sms --follow | head -1', () => {
  test('the reader of its output going away ends it quietly: exit 0, nothing on stderr', async () => {
    assert.equal((await esoz(['reset'])).code, 0);
    assert.equal((await demo('PATCH', `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`)).status, 200);
    const child = spawnEsoz(['sms', '--follow', '--interval', '100']);
    child.stdin.end();
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // as `head -1` does: read the first line, then close the pipe
      await new Promise((resolve) => child.stdout.once('data', resolve));
      child.stdout.destroy();
      assert.equal((await demo('PATCH', `/api/medication_requests/${DEMO.mrThirdPersonId}/actions/resend`)).status, 200);
      assert.equal(await exited, 0);
      assert.equal(err, '');
    } finally {
      await killProcess(child, 'SIGKILL');
    }
  });
});

const embeddedOnly = { skip: process.env.TEST_DATABASE_URL ? 'embedded-database start; covered in the PGlite run' : false };

describe('esoz start', () => {
  test(
    'on a free port: the start-up lines and the banner with what to export; the server answers; SIGTERM stops it',
    embeddedOnly,
    async () => {
      const port = await freePort();
      const child = spawnEsoz(['start'], { PORT: String(port), DATABASE_URL: 'memory://', BASE_URL: undefined, ADMIN_KEY: undefined });
      child.stdin.end();
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor(async () => /npm run example:composition/.test(out) || child.exitCode !== null, 120_000, 100);
        assert.match(out, /esoz-core: migrations: \d+ applied/);
        assert.match(out, new RegExp(`esoz-core is listening on http://localhost:${port}`));
        const exported = new RegExp(`export BASE_URL=http://localhost:${port} TOKEN=(\\S+) API_KEY=(\\S+) ADMIN_KEY=(\\S+)`).exec(out);
        assert.ok(exported, out);
        // the admin key it prints is the one the other commands need
        const sms = await esoz(['sms'], { BASE_URL: `http://localhost:${port}`, ADMIN_KEY: exported[3] });
        assert.equal(sms.code, 0, sms.stderr);
        child.kill('SIGTERM');
        assert.equal(await exited, 0);
      } finally {
        await killProcess(child, 'SIGKILL');
      }
    },
  );

  test('on a port in use: the one line of `npm start` and its exit code 75', embeddedOnly, async () => {
    const busy = createServer();
    const port = await new Promise<number>((resolve) =>
      busy.listen(0, '127.0.0.1', () => resolve((busy.address() as { port: number }).port)),
    );
    try {
      await fails(
        ['start'],
        75,
        [
          `esoz-core: port ${port} on 127.0.0.1 is already in use (another esoz-core?): stop what uses it, or start with PORT=<a free port>`,
        ],
        {
          PORT: String(port),
          DATABASE_URL: 'memory://',
        },
      );
    } finally {
      busy.close();
    }
  });
});

describe('esoz worker', () => {
  test('on the embedded database: the one line of `npm run worker` and its exit code 78', async () => {
    await fails(
      ['worker'],
      78,
      [
        'esoz-core: the worker process needs DATABASE_URL=postgres://… (the embedded database lives inside the API process, whose workers run in-process)',
      ],
      { DATABASE_URL: 'memory://' },
    );
  });

  test(
    'on PostgreSQL: workers start on the database of the API; SIGTERM stops them with exit 0',
    { skip: process.env.TEST_DATABASE_URL ? false : 'needs PostgreSQL (TEST_DATABASE_URL)' },
    async () => {
      const child = spawnEsoz(['worker'], { DATABASE_URL: server.databaseUrl, LOG_LEVEL: 'info' });
      child.stdin.end();
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await waitFor(async () => /"msg":"worker started"/.test(out) || child.exitCode !== null, 60_000, 100);
        assert.match(out, /"msg":"worker started"/);
        child.kill('SIGTERM');
        assert.equal(await exited, 0);
      } finally {
        await killProcess(child, 'SIGKILL');
      }
    },
  );
});
