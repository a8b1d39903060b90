/**
 * The sandbox console (/console) over real HTTP on the demo data: the login and its cookie, the
 * redirect without one, the CSRF guard (Origin, then session), forms that act through the admin API,
 * nothing of the key or the cookie in the logs or the journal — and, in headless Chromium, an MIS
 * developer's session: log in, see the SMS of a resend arrive in the inbox, open it, switch ERLN to
 * reject, sign an МВТН through the API, see its ERLN task fail, reset.
 * CONSOLE_SCREENSHOTS=<dir> also saves console-inbox.png and console-erln.png there (docs/).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_KEY, call, startTestServer, waitFor, type CallResult, type TestServer } from './support/harness.ts';
import { demoDraft } from './support/demo.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';
import { consoleEnabled } from '../src/sandbox/console/routes.ts';
import type { Platform } from '../src/platform/platform.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;
const PHONE = '+380501112233'; // the demo OTP person's phone
const resendPath = `/api/medication_requests/${DEMO.mrOtpId}/actions/resend`;

let server: TestServer;
let demo: (method: string, path: string, body?: unknown) => Promise<CallResult>;
const admin = (method: string, path: string, body?: unknown) => server.call(method, `/admin${path}`, { admin: true, body });
const logLines: string[] = [];

before(async () => {
  server = await startTestServer({
    env: { DEMO_DATA: 'on', REQUEST_JOURNAL: 'on', SIGNATURE_TRUST: 'any-test-ca', LOG_LEVEL: 'info' },
    logStream: new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    }),
  });
  const creds = server.runtime.sandbox?.demo;
  assert.ok(creds, 'the demo credentials');
  demo = (method, path, body) => call(server.url, method, path, { token: creds.token, apiKey: creds.secret, body });
});
after(() => server?.close());

/** A raw request to the console: redirects not followed, the answer's text and cookie. */
async function web(method: string, path: string, o: { cookie?: string; form?: Record<string, string>; origin?: string | null } = {}) {
  const headers: Record<string, string> = {};
  if (o.cookie) headers.cookie = o.cookie;
  // a browser's form POST carries its page's Origin; null: a client that sends none
  if (method === 'POST' && o.origin !== null) headers.origin = o.origin ?? server.url;
  let body: string | undefined;
  if (o.form) {
    body = new URLSearchParams(o.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(server.url + path, { method, headers, body, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text(), location: res.headers.get('location') };
}

async function login(): Promise<string> {
  const r = await web('POST', '/console/login', { form: { admin_key: ADMIN_KEY } });
  assert.equal(r.status, 303, r.text);
  const set = r.headers.get('set-cookie') ?? '';
  return set.split(';')[0];
}

const faults = async () => (await admin('GET', '/faults')).body.data;

/** A PRELIMINARY МВТН of the demo patient on an encounter of its own (test/support/demo.ts). */
async function draft(): Promise<{ id: string; document: unknown }> {
  const d = await demoDraft(server, demo);
  assert.equal(d.job.body.data.status, 'DONE', d.job.text);
  return d;
}

describe('login and session', () => {
  test('without a session a page redirects to the login page, a POST is a 401 page', async () => {
    for (const p of ['/console', '/console/sms', '/console/erln', '/console/requests']) {
      const r = await web('GET', p);
      assert.equal(r.status, 303, p);
      assert.equal(r.location, '/console/login');
    }
    // before the query is validated
    assert.equal((await web('GET', '/console/sms?page=abc&unknown=1')).location, '/console/login');
    const post = await web('POST', '/console/faults/sms', { form: { mode: 'down' } });
    assert.equal(post.status, 401);
    assert.match(post.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(post.text, /Log in to the console first/);
    assert.equal((await faults()).sms.mode, 'ok');
    const page = await web('GET', '/console/login');
    assert.equal(page.status, 200);
    assert.match(page.text, /<label for="admin_key">Admin key<\/label>/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });

  test('a wrong key stays out: a 401 page, no cookie', async () => {
    for (const key of ['wrong', '', ADMIN_KEY + 'x', ADMIN_KEY.slice(0, -1)]) {
      const r = await web('POST', '/console/login', { form: { admin_key: key } });
      assert.equal(r.status, 401, key);
      assert.match(r.text, /role="alert"[^>]*>Wrong admin key\./);
      assert.equal(r.headers.get('set-cookie'), null);
    }
  });

  test('the right key: an HttpOnly, SameSite=Strict cookie for /console that does not carry the key', async () => {
    const r = await web('POST', '/console/login', { form: { admin_key: ADMIN_KEY } });
    assert.equal(r.status, 303);
    assert.equal(r.location, '/console');
    const set = r.headers.get('set-cookie') ?? '';
    assert.match(set, /^esoz_console=/);
    assert.match(set, /HttpOnly/i);
    assert.match(set, /SameSite=Strict/i);
    assert.match(set, /Path=\/console/);
    assert.match(set, /Max-Age=43200/);
    assert.ok(!set.includes(ADMIN_KEY), 'the key is not in the cookie');
    const cookie = set.split(';')[0];
    const home = await web('GET', '/console', { cookie });
    assert.equal(home.status, 200);
    assert.ok(home.text.includes(server.runtime.sandbox!.demo!.token), 'the demo token is shown');
    assert.match(home.text, /export BASE_URL=http:\/\/127\.0\.0\.1:\d+ TOKEN=/);
  });

  test('a forged, expired or foreign cookie is no session', async () => {
    const cookie = await login();
    const [, value] = cookie.split('=');
    const signature = decodeURIComponent(value).split('.').slice(1).join('.');
    for (const forged of [
      `esoz_console=${encodeURIComponent(`${Date.now() + 3600_000}.${signature}`)}`, // another expiry, the old signature
      `esoz_console=${encodeURIComponent(`${Date.now() - 1000}`)}`, // unsigned
      'esoz_console=',
      'esoz_console=%ZZ',
    ]) {
      const r = await web('GET', '/console', { cookie: forged });
      assert.equal(r.status, 303, forged);
    }
  });

  test('log out ends the cookie', async () => {
    const cookie = await login();
    const r = await web('POST', '/console/logout', { cookie });
    assert.equal(r.status, 303);
    assert.match(r.headers.get('set-cookie') ?? '', /esoz_console=;.*Expires=Thu, 01 Jan 1970/i);
  });
});

describe('CSRF guard', () => {
  test('a foreign Origin is refused (403) before the session is looked at; nothing changes', async () => {
    const cookie = await login();
    for (const origin of ['http://evil.example', 'null', server.url.replace('127.0.0.1', 'localhost'), `${server.url}.evil.example`]) {
      const withCookie = await web('POST', '/console/faults/sms', { cookie, origin, form: { mode: 'down' } });
      assert.equal(withCookie.status, 403, origin);
      assert.match(withCookie.text, /not posted from a page of this console/);
      // no cookie at all: still the Origin answers first
      const without = await web('POST', '/console/faults/sms', { origin, form: { mode: 'down' } });
      assert.equal(without.status, 403, origin);
      // and before the form is validated
      assert.equal((await web('POST', '/console/faults/sms', { cookie, origin, form: { unknown: 'x' } })).status, 403, origin);
    }
    assert.equal((await faults()).sms.mode, 'ok');
  });

  test('a POST without Origin needs Sec-Fetch-Site: same-origin', async () => {
    const cookie = await login();
    const bare = await web('POST', '/console/faults/sms', { cookie, origin: null, form: { mode: 'down' } });
    assert.equal(bare.status, 403);
    const res = await fetch(`${server.url}/console/faults/sms`, {
      method: 'POST',
      headers: { cookie, 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=down',
      redirect: 'manual',
    });
    assert.equal(res.status, 403);
    assert.equal((await faults()).sms.mode, 'ok');
    const same = await fetch(`${server.url}/console/faults/sms`, {
      method: 'POST',
      headers: { cookie, 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=slow&delay_ms=5',
      redirect: 'manual',
    });
    assert.equal(same.status, 303);
    assert.equal((await faults()).sms.mode, 'slow');
    await admin('PUT', '/faults', { sms: { mode: 'ok', delay_ms: 0 } });
  });

  test('the login form is origin-checked too', async () => {
    const r = await web('POST', '/console/login', { origin: 'http://evil.example', form: { admin_key: ADMIN_KEY } });
    assert.equal(r.status, 403);
    assert.equal(r.headers.get('set-cookie'), null);
  });
});

describe('forms act through the admin API', () => {
  test('a value the admin API refuses is its 422, shown on the page; nothing is set', async () => {
    const cookie = await login();
    const r = await web('POST', '/console/faults/sms', { cookie, form: { mode: 'sideways', delay_ms: 'abc' } });
    assert.equal(r.status, 422);
    assert.match(r.text, /\$\.sms\.mode/);
    assert.match(r.text, /\$\.sms\.delay_ms/);
    assert.equal((await faults()).sms.mode, 'ok');
    const erln = await web('POST', '/console/faults/erln', {
      cookie,
      form: { mode: 'reject', reject_code: '', reject_message: 'Відмова' },
    });
    assert.equal(erln.status, 303);
    assert.equal(erln.location?.startsWith('/console/faults?notice='), true);
    const set = (await faults()).erln;
    assert.equal(set.mode, 'reject');
    assert.equal(set.reject_code, null, 'an empty code field: the code is unknown');
    assert.equal(set.reject_message, 'Відмова');
    await admin('POST', '/reset');
  });

  test('reset asks for a confirmation: without it nothing is reset', async () => {
    const cookie = await login();
    await admin('PUT', '/faults', { sms: { mode: 'down' } });
    const r = await web('POST', '/console/reset', { cookie, form: { demo: 'true' } });
    assert.equal(r.status, 400);
    assert.match(r.text, /Nothing was reset/);
    assert.equal((await faults()).sms.mode, 'down');
    const done = await web('POST', '/console/reset', { cookie, form: { demo: 'true', confirm: 'yes' } });
    assert.equal(done.status, 303);
    assert.equal((await faults()).sms.mode, 'ok');
  });

  test('the SMS inbox: search, one message, delete one, delete the matching', async () => {
    const cookie = await login();
    await admin('POST', '/reset');
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    const list = await web('GET', `/console/sms?phone_number=${encodeURIComponent(PHONE)}`, { cookie });
    assert.equal(list.status, 200);
    const id = /href="\/console\/sms\/([0-9a-f-]{36})"/.exec(list.text)?.[1];
    assert.ok(id, list.text);
    assert.match((await web('GET', '/console/sms?phone_number=%2B380000000000', { cookie })).text, /No SMS matches/);
    const one = await web('GET', `/console/sms/${id}`, { cookie });
    assert.equal(one.status, 200);
    assert.match(one.text, new RegExp(`SMS to \\${PHONE}`));
    assert.equal((await web('GET', `/console/sms/${randomUUID()}`, { cookie })).status, 404);
    assert.equal((await web('GET', '/console/sms/not-a-uuid', { cookie })).status, 422);
    assert.equal((await web('POST', `/console/sms/${id}/delete`, { cookie })).status, 303);
    assert.equal((await admin('GET', '/sms')).body.data.length, 0);
    assert.equal((await admin('POST', '/reset')).status, 200);
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    const all = await web('POST', '/console/sms/delete', { cookie, form: { phone_number: PHONE } });
    assert.equal(all.status, 303);
    assert.equal(new URL(all.location ?? '', server.url).searchParams.get('notice'), 'Deleted 1 SMS');
    assert.equal((await admin('GET', '/sms')).body.data.length, 0);
  });

  test('compositions: the relatesTo link and the ones that relate to it, from the relatesTo columns', async () => {
    const cookie = await login();
    const encounters = [randomUUID(), randomUUID()];
    await server.fixtures({
      encounters: encounters.map((id) => ({
        id,
        person_id: DEMO.personOtpId,
        episode_id: DEMO.episodeId,
        legal_entity_id: DEMO.legalEntityId,
        employee_id: DEMO.doctorEmployeeId,
      })),
    });
    const base = {
      type: 'TEMP_DISABILITY',
      category: 'SICKNESS',
      subject_id: DEMO.personOtpId,
      author_id: DEMO.doctorEmployeeId,
      legal_entity_id: DEMO.legalEntityId,
      period: { start: '2026-09-01T00:00:01Z', end: '2026-09-05T20:59:59Z' },
    };
    const first = (await server.fixtures({ compositions: [{ ...base, status: 'FINAL', encounter_id: encounters[0] }] })).compositions[0];
    const second = (
      await server.fixtures({
        compositions: [
          {
            ...base,
            status: 'PRELIMINARY',
            encounter_id: encounters[1],
            document: { relatesTo: { code: 'appends', targetIdentifier: { type: { coding: [] }, value: first } } },
          },
        ],
      })
    ).compositions[0];
    const r = await web('GET', '/console/compositions', { cookie });
    assert.equal(r.status, 200);
    const row = (id: string) => new RegExp(`<tr id="c-${id}">([\\s\\S]*?)</tr>`).exec(r.text)?.[1] ?? '';
    assert.match(row(second), new RegExp(`appends <a href="#c-${first}">`));
    assert.match(row(first), new RegExp(`appends by <a href="#c-${second}">`));
  });

  test('the request journal leaves the console out and shows its actions as admin calls', async () => {
    const cookie = await login();
    await admin('DELETE', '/requests');
    await web('GET', '/console/sms', { cookie });
    await web('POST', '/console/faults/composition_jobs', { cookie, form: { delay_ms: '0' } });
    // the router decodes the path: a percent-encoded one is still the console's login, still left out
    await web('POST', '/%63onsole/login', { form: { admin_key: ADMIN_KEY } });
    const entries = (await admin('GET', '/requests')).body.data as { method: string; path: string }[];
    assert.deepEqual(
      entries.filter((e) => /onsole/.test(e.path)),
      [],
    );
    assert.ok(!JSON.stringify(entries).includes(ADMIN_KEY));
    assert.ok(entries.some((e) => e.method === 'PUT' && e.path === '/admin/faults'));
    const page = await web('GET', '/console/requests', { cookie });
    assert.match(page.text, /PUT <code>\/admin\/faults<\/code>/);
  });

  test('the console is not API: nothing under /console in /openapi.json', async () => {
    const doc = await server.call('GET', '/openapi.json');
    assert.deepEqual(
      Object.keys(doc.body.paths).filter((p) => p.startsWith('/console')),
      [],
    );
  });

  test('there is a console only when the admin API is on', () => {
    assert.equal(consoleEnabled({ config: { ADMIN_KEY: '' } } as unknown as Platform), false);
    assert.equal(consoleEnabled(server.runtime.platform), true);
  });
});

describe('in headless Chromium', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM}` }, () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  before(async () => {
    await admin('POST', '/reset');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });
  after(async () => browser?.close());

  test('log in with the keyboard: the skip link first, the labelled key field, the overview', async () => {
    await page.goto(`${server.url}/console/sms`);
    assert.equal(new URL(page.url()).pathname, '/console/login');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to main content');
    await page.getByLabel('Admin key').fill('wrong');
    await page.getByLabel('Admin key').press('Enter');
    assert.equal(await page.getByRole('alert').innerText(), 'Wrong admin key.');
    await page.getByLabel('Admin key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const line = await page.locator('#line-export').innerText();
    assert.ok(line.startsWith(`export BASE_URL=${server.url} TOKEN=`), line);
    // its Copy button puts the line on the clipboard
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.getByRole('button', { name: 'Copy the export line' }).click();
    await page.getByRole('status').filter({ hasText: 'Copy the export line: done' }).waitFor({ state: 'attached' });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), line);
  });

  test('a resend through the API appears in the open inbox by itself; open it', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'SMS inbox' }).click();
    await page.getByText('0 messages').waitFor();
    assert.equal((await demo('PATCH', resendPath)).status, 200);
    // the inbox refreshes itself every few seconds
    const link = page.getByRole('row').filter({ hasText: PHONE }).getByRole('link');
    await link.waitFor({ timeout: 15_000 });
    const text = await link.innerText();
    // the live region was updated in place, not replaced
    assert.equal(await page.locator('#inbox-count[aria-live="polite"]').innerText(), '1 message, newest first.');
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'console-inbox.png') });
    await link.click();
    await page.getByRole('heading', { name: `SMS to ${PHONE}` }).waitFor();
    const body = await page.locator('pre.sms-body').innerText();
    assert.ok(body.startsWith(text.replace(/…$/, '')), `${body} / ${text}`);
  });

  test('ERLN to reject in the console; an МВТН signed through the API gets its ERLN task rejected', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'ERLN' }).click();
    const form = page.getByRole('form', { name: 'ERLN simulator faults' });
    await form.getByLabel('Mode', { exact: true }).selectOption('reject');
    await form.getByLabel('Rejection message').fill('Пацієнта не знайдено в ЕЛН');
    await page.getByRole('button', { name: 'Save ERLN faults' }).click();
    await page.getByRole('status').filter({ hasText: 'ERLN simulator faults saved' }).waitFor();
    assert.equal((await faults()).erln.mode, 'reject');

    const d = await draft();
    const signed = await admin('POST', '/sign', { content: d.document, tax_id: DEMO.doctorTaxId });
    assert.equal(signed.status, 200, signed.text);
    const r = await demo('PATCH', `/api/patients/composition/${d.id}/sign`, { data: signed.body.data.data });
    assert.equal(r.status, 202, r.text);
    const title = (d.document as { title: string }).title;
    const row = page.getByRole('row').filter({ hasText: title });
    await waitFor(
      async () => {
        await page.reload();
        return (await row.count()) > 0 && (await row.innerText()).includes('ERROR');
      },
      15_000,
      250,
    );
    const cells = await row.innerText();
    assert.match(cells, /CREATE_ERLN_RECORD/);
    assert.match(cells, /Пацієнта не знайдено в ЕЛН/);
    await page.getByRole('row').filter({ hasText: 'rejected' }).first().waitFor();
    if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, 'console-erln.png'), fullPage: true });

    await page.getByRole('link', { name: title }).click();
    assert.match(await page.getByRole('row').filter({ hasText: title }).innerText(), /FINAL/);
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Composition jobs' }).click();
    assert.match(await page.getByRole('row').filter({ hasText: 'SIGN' }).first().innerText(), /DONE/);
  });

  test('faults and reset: the confirmation page, then the demo state again', async () => {
    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Faults' }).click();
    await page.getByRole('form', { name: 'SMS gateway' }).getByLabel('Mode', { exact: true }).selectOption('down');
    await page.getByRole('button', { name: 'Save SMS faults' }).click();
    await page.getByRole('status').filter({ hasText: 'SMS gateway faults saved' }).waitFor();
    assert.equal((await faults()).sms.mode, 'down');

    await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link', { name: 'Reset' }).click();
    await page.getByRole('button', { name: 'Reset to the demo state' }).click();
    await page.getByRole('status').filter({ hasText: 'The sandbox is back to its demo state' }).waitFor();
    const after = await faults();
    assert.equal(after.sms.mode, 'ok');
    assert.equal(after.erln.mode, 'ok');
    assert.equal((await admin('GET', '/sms')).body.data.length, 0);
    assert.equal((await demo('GET', `/api/medication_requests/${DEMO.mrOtpId}`)).status, 200, 'the demo token still works');
  });
});

describe('logs', () => {
  test('neither the admin key nor a session cookie reaches the log', async () => {
    const cookie = await login();
    await web('GET', '/console', { cookie });
    await web('POST', '/console/login', { form: { admin_key: 'not-the-key-but-secret' } });
    const log = logLines.join('');
    assert.ok(log.length > 0, 'something was logged');
    assert.ok(!log.includes(ADMIN_KEY), 'no admin key');
    assert.ok(!log.includes('not-the-key-but-secret'), 'no typed key');
    assert.ok(!log.includes(cookie.split('=')[1]), 'no cookie');
  });
});
