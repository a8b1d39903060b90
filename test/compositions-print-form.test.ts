/**
 * getPrintForm over real HTTP: the checks in their order (401/403, 422 templateId, 404 Composition not
 * found, 404 Form not found), the HTML of every status, escaping of registry data, and the form of a
 * FINAL МВТН with its ERLN SL number rendered by headless Chromium (its text as a reader sees it).
 * PRINT_FORM_SCREENSHOT=<file.png> also saves that page as an image (docs/print-form.png).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, waitFor, type Mis, type TestServer } from './support/harness.ts';
import { createBody, createDone, misOf, pollJob, seedWorld, type World } from './support/compositions.ts';
import { signedComposition } from './support/erln.ts';
import { makeSigner, signCms } from './support/cms.ts';

/** Debian's Chromium (`apt-get install -y chromium`); CHROMIUM_PATH names another binary. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let server: TestServer;
let w: World;
let mis: Mis;

before(async () => {
  server = await startTestServer({ env: { SIGNATURE_TRUST: 'any-test-ca' } });
  w = await seedWorld(server);
  // Ukrainian names as an MIS has them (seedWorld's are placeholders)
  await server.fixtures({
    legal_entities: [{ id: w.legalEntityId, name: 'Комунальне некомерційне підприємство «Міська поліклініка № 3»', edrpou: '12345678' }],
    employees: [
      {
        id: w.authorId,
        legal_entity_id: w.legalEntityId,
        party: { first_name: 'Оксана', last_name: 'Бондаренко', second_name: 'Іванівна', tax_id: w.authorTaxId },
      },
    ],
    persons: [{ id: w.personId, first_name: 'Олена', last_name: 'Коваленко', second_name: 'Петрівна', birth_date: '1990-01-01' }],
  });
  mis = await misOf(server, w);
});
after(async () => server?.close());

type Target = { id: string; patientId: string; episodeId: string; encounterId: string };
const formPath = (c: Target, query = '?templateId=1001', prefix = '/api') =>
  `${prefix}/patients/${c.patientId}/composition/${c.id}/episode/${c.episodeId}/encounter/${c.encounterId}/printForm${query}`;

/** A composition in `status` written by the fixture kind (no create → sign), on a fresh encounter of the episode. */
async function fixtureComposition(status: string, o: { type?: string; category?: string; subjectId?: string } = {}): Promise<Target> {
  const encounterId = randomUUID();
  const subjectId = o.subjectId ?? w.personId;
  // the long path names an episode: another subject gets one of its own
  const episodeId = subjectId === w.personId ? w.episodeId : randomUUID();
  await server.fixtures({
    ...(episodeId === w.episodeId ? {} : { episodes: [{ id: episodeId, person_id: subjectId, legal_entity_id: w.legalEntityId }] }),
    encounters: [
      { id: encounterId, person_id: subjectId, episode_id: episodeId, legal_entity_id: w.legalEntityId, employee_id: w.authorId },
    ],
  });
  const ids = await server.fixtures({
    compositions: [
      {
        status,
        type: o.type ?? 'TEMP_DISABILITY',
        category: o.category ?? 'SICKNESS',
        subject_id: subjectId,
        encounter_id: encounterId,
        author_id: w.authorId,
        legal_entity_id: w.legalEntityId,
        period: { start: '2026-09-01T00:00:01Z', end: '2026-09-05T20:59:59Z' },
      },
    ],
  });
  return { id: ids.compositions[0], patientId: subjectId, episodeId, encounterId };
}

/** The visible text of an HTML page, roughly as a reader sees it (the browser test checks the real thing). */
const textOf = (html: string) =>
  html
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe('getPrintForm: checks in order', () => {
  let c: Target;
  before(async () => {
    c = await fixtureComposition('FINAL');
  });

  test('200 text/html for the allowed template, on both prefixes; rendered anew, never cached', async () => {
    for (const prefix of ['/api', '']) {
      const r = await mis.call('GET', formPath(c, '?templateId=1001', prefix));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.match(r.text, /^<!DOCTYPE html>/);
      assert.match(textOf(r.text), /Пацієнт Коваленко Олена Петрівна/);
    }
    // the registry at the time of the call: a renamed patient is printed under the new name
    await server.fixtures({
      persons: [{ id: w.personId, first_name: 'Олена', last_name: 'Шевчук', second_name: 'Петрівна', birth_date: '1990-01-01' }],
    });
    try {
      assert.match(textOf((await mis.call('GET', formPath(c))).text), /Пацієнт Шевчук Олена Петрівна/);
    } finally {
      await server.fixtures({
        persons: [{ id: w.personId, first_name: 'Олена', last_name: 'Коваленко', second_name: 'Петрівна', birth_date: '1990-01-01' }],
      });
    }
  });

  test('401 without a token, 403 without composition:read: before any other check', async () => {
    const anonymous = await server.call('GET', formPath(c, ''));
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.equal(anonymous.body.error.type, 'access_denied');
    const noScope = await server.mis({ legalEntityId: w.legalEntityId, scopes: ['composition:search'] });
    // an unknown composition and no templateId: the scope answers first
    const r = await noScope.call('GET', formPath({ ...c, id: randomUUID() }, ''));
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.type, 'forbidden');
    assert.match(r.body.error.message, /composition:read/);
    assert.equal((await noScope.call('GET', formPath(c))).status, 403);
  });

  test('422 when templateId is missing or not an integer: before the composition is looked up', async () => {
    const unknown = { ...c, id: randomUUID() };
    for (const query of ['', '?templateId=', '?templateId=abc', '?templateId=1001.5', '?templateId=0', '?templateId=1001&x=1']) {
      const r = await mis.call('GET', formPath(unknown, query));
      assert.equal(r.status, 422, `${query}: ${r.text}`);
      assert.equal(r.body.error.type, 'validation_failed');
      assert.ok(
        r.body.error.invalid.every((e: { entry_type: string }) => e.entry_type === 'query_parameter'),
        r.text,
      );
    }
    const missing = await mis.call('GET', formPath(unknown, ''));
    assert.equal(missing.body.error.invalid[0].entry, '$.templateId');
  });

  test("404 Composition not found: unknown, another custodian's, ids not of its path — before the template is checked", async () => {
    const stranger = await server.mis({ legalEntityId: w.otherLegalEntityId });
    const expected = { type: 'not_found', message: 'Composition not found' };
    // templateId 1000 is not the МВТН's: the composition check answers first
    const cases: [Mis, Target][] = [
      [mis, { ...c, id: randomUUID() }],
      [stranger, c],
      [mis, { ...c, patientId: w.motherId }],
      [mis, { ...c, episodeId: randomUUID() }],
      [mis, { ...c, encounterId: w.encounterId }],
      [mis, { ...c, id: 'not-a-uuid' }],
    ];
    for (const [caller, target] of cases) {
      for (const query of ['?templateId=1001', '?templateId=1000']) {
        const r = await caller.call('GET', formPath(target, query));
        assert.equal(r.status, 404, `${JSON.stringify(target)} ${query}: ${r.text}`);
        assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.deepEqual(r.body.error, expected);
      }
    }
    // the same text as getComposition gives for the same request
    const get = await stranger.call('GET', formPath(c, '').replace('/printForm', ''));
    assert.deepEqual(get.body.error, expected);
  });

  test('404 Form not found: the template is not the one of the composition type', async () => {
    const newborn = await fixtureComposition('FINAL', { type: 'NEWBORN', category: 'LIVE_BIRTH', subjectId: w.prepersonId });
    const drivers = await fixtureComposition('FINAL', { type: 'DRIVERS', category: 'DRIVERS_GROUP1' });
    const cases: [Target, string][] = [
      [c, '?templateId=1000'],
      [c, '?templateId=21'],
      [newborn, '?templateId=1001'],
      [newborn, '?templateId=20'],
      [drivers, '?templateId=1001'],
      [drivers, '?templateId=1000'],
    ];
    for (const [target, query] of cases) {
      const r = await mis.call('GET', formPath(target, query));
      assert.equal(r.status, 404, `${query}: ${r.text}`);
      assert.deepEqual(r.body.error, { type: 'not_found', message: 'Form not found' });
    }
    const ok = await mis.call('GET', formPath(newborn, '?templateId=1000'));
    assert.equal(ok.status, 200, ok.text);
    const text = textOf(ok.text);
    assert.match(text, /Медичне свідоцтво про народження/);
    assert.match(text, /Категорія Живонародження/);
    assert.doesNotMatch(text, /ЕЛН/, 'no ERLN for a NEWBORN');
  });
});

describe('getPrintForm: what the form shows', () => {
  test('every status prints; the notice says what the status means', async () => {
    const notices: Record<string, RegExp | null> = {
      PRELIMINARY: /Документ не підписаний \(Попередній\)/,
      FINAL: null,
      AMENDED: /Документ замінено іншим \(Замінений\)/,
      ENTERED_IN_ERROR: /Документ скасовано \(Внесений помилково\)/,
    };
    for (const [status, notice] of Object.entries(notices)) {
      const c = await fixtureComposition(status);
      const r = await mis.call('GET', formPath(c));
      assert.equal(r.status, 200, `${status}: ${r.text}`);
      const text = textOf(r.text);
      assert.match(text, /Медичний висновок про тимчасову непрацездатність/);
      assert.match(text, /Період дії з 01\.09\.2026 по 05\.09\.2026/, 'calendar days in Kyiv');
      assert.match(text, /Категорія Захворювання або травма/);
      assert.match(text, /Лікар Бондаренко Оксана Іванівна/);
      assert.match(text, /Заклад охорони здоров’я Комунальне некомерційне підприємство «Міська поліклініка № 3»/);
      if (notice) assert.match(text, notice);
      else assert.doesNotMatch(text, /Документ (не підписаний|замінено|скасовано)/);
      assert.equal(/Причина скасування/.test(text), status === 'ENTERED_IN_ERROR', status);
    }
  });

  test('a stored document of an odd shape (a fixture stores any) still prints: what is missing is "не зазначено"', async () => {
    const c = await fixtureComposition('FINAL');
    await server.fixtures({
      compositions: [
        {
          id: c.id,
          status: 'FINAL',
          type: 'TEMP_DISABILITY',
          category: 'SICKNESS',
          subject_id: w.personId,
          encounter_id: c.encounterId,
          author_id: w.authorId,
          legal_entity_id: w.legalEntityId,
          document: { title: 42, event: 'none', type: { coding: 'x' }, category: {} },
        },
      ],
    });
    const r = await mis.call('GET', formPath(c));
    assert.equal(r.status, 200, r.text);
    assert.match(textOf(r.text), /Період дії не зазначено Категорія не зазначено Тип Медичний висновок про тимчасову непрацездатність/);
  });

  test("a preperson's form names the preperson; care categories name the person on leave too", async () => {
    await server.fixtures({ prepersons: [{ id: w.prepersonId, first_name: 'Невідомий', last_name: 'Пацієнт' }] });
    const pre = await fixtureComposition('FINAL', { subjectId: w.prepersonId });
    assert.match(textOf((await mis.call('GET', formPath(pre))).text), /Пацієнт Пацієнт Невідомий Період/);
    const care = await createDone(mis, createBody(w, { category: 'PARENTAL_CARE', focus: { type: 'person', id: w.motherId } }));
    const r = await mis.call('GET', formPath({ id: care.id, patientId: w.personId, episodeId: w.episodeId, encounterId: w.encounterId }));
    assert.equal(r.status, 200, r.text);
    const mother = await server.runtime.platform.db.query<{ last_name: string }>('SELECT last_name FROM persons WHERE id = $1', [
      w.motherId,
    ]);
    assert.match(textOf(r.text), new RegExp(`Особа, якій видано ${mother.rows[0].last_name} `));
    assert.match(textOf(r.text), /Категорія Догляд за хворою дитиною/);
  });

  test('registry data is escaped: a name with <script> is text, not markup', async () => {
    const personId = randomUUID();
    const evil = '<script>window.pwned=1</script>';
    await server.fixtures({ persons: [{ id: personId, first_name: evil, last_name: `O'Brien & "Sons"`, birth_date: '1980-03-03' }] });
    const c = await fixtureComposition('FINAL', { subjectId: personId });
    const r = await mis.call('GET', formPath(c));
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes(evil), 'the name is not markup');
    assert.ok(r.text.includes('&lt;script&gt;window.pwned=1&lt;/script&gt;'), r.text);
    assert.match(textOf(r.text), /Пацієнт O'Brien & "Sons" <script>window\.pwned=1<\/script>/);
  });

  test('a cancelled МВТН: the reason from the dictionary and its text, and the SL number ERLN gave', async () => {
    const c = await signedComposition(server, mis, w);
    const sl = await slNumber(c);
    const signer = await makeSigner({ taxId: w.authorTaxId });
    const content = {
      id: c.id,
      reason: {
        coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_DISABILITY_PERIOD' }],
        text: 'Період <b>вказано</b> невірно',
      },
    };
    const r = await mis.call('PATCH', `/api/patients/composition/${c.id}/cancel`, {
      body: { data: await signCms(signer, JSON.stringify(content)) },
    });
    assert.equal(r.status, 202, r.text);
    assert.equal((await pollJob(mis, r.body.data.id)).body.data.status, 'DONE');
    const form = await mis.call('GET', formPath(c));
    assert.equal(form.status, 200, form.text);
    const text = textOf(form.text);
    assert.match(text, /Статус Внесений помилково/);
    assert.match(text, /Причина скасування Помилкове зазначення строків непрацездатності Період <b>вказано<\/b> невірно/);
    assert.ok(text.includes(`ЕЛН № ${sl}`), text);
  });
});

/** The SL number ERLN gave the composition (integrationData), once its CREATE_ERLN_RECORD task ended. */
async function slNumber(c: Target): Promise<string> {
  const path = formPath(c, '').replace('/printForm', '/integrationData');
  return waitFor(
    async () => {
      const r = await mis.call('GET', path);
      assert.equal(r.status, 200, r.text);
      const task = (r.body.data as { taskStatus: string; details: { SL_NUM?: string } }[]).find((t) => t.taskStatus !== 'PENDING');
      return task?.details.SL_NUM;
    },
    30_000,
    50,
  );
}

describe('getPrintForm in a browser', () => {
  let browser: Browser;
  before(async () => {
    // not skipped: a missing browser is a failing test that says how to get one
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is not installed at ${CHROMIUM}: install it with \`sudo apt-get install -y chromium\` (Debian/Ubuntu), ` +
        'or set CHROMIUM_PATH to a Chromium binary. The test never downloads a browser.',
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  after(async () => browser?.close());

  test('a FINAL МВТН with its SL number, as headless Chromium renders it', async () => {
    const c = await signedComposition(server, mis, w, { category: 'SICKNESS' });
    const sl = await slNumber(c);
    const title = (await mis.call('GET', formPath(c, '').replace('/printForm', ''))).body.data.title as string;
    const context = await browser.newContext({
      viewport: { width: 900, height: 1100 },
      extraHTTPHeaders: { authorization: `Bearer ${mis.token}`, 'api-key': mis.secret },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(server.url + formPath(c));
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), `Медичний висновок про тимчасову непрацездатність № ${title}`);
      const text = await page.locator('body').innerText();
      const line = (label: string) => {
        const m = new RegExp(`^${label}\\n(.+)$`, 'm').exec(text);
        return m?.[1] ?? null;
      };
      assert.equal(line('Номер'), title);
      assert.equal(line('Пацієнт'), 'Коваленко Олена Петрівна');
      assert.equal(line('Період дії'), 'з 01.09.2026 по 05.09.2026');
      assert.equal(line('Категорія'), 'Захворювання або травма');
      assert.equal(line('Тип'), 'Медичний висновок про тимчасову непрацездатність');
      assert.equal(line('Лікар'), 'Бондаренко Оксана Іванівна');
      assert.equal(line('Заклад охорони здоров’я'), 'Комунальне некомерційне підприємство «Міська поліклініка № 3»');
      assert.equal(line('Статус'), 'Підписаний');
      assert.match(line('Дата') ?? '', /^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$/);
      assert.equal(line('Електронний листок непрацездатності'), `ЕЛН № ${sl}`);
      assert.equal(line('Причина скасування'), null);
      assert.doesNotMatch(text, /Документ (не підписаний|замінено|скасовано)/);
      // the page prints on one A4 sheet
      const pdf = await page.pdf({ preferCSSPageSize: true });
      assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
      assert.equal(pdf.toString('latin1').match(/\/Type\s*\/Page\b(?!s)/g)?.length, 1, 'one page');
      const screenshot = process.env.PRINT_FORM_SCREENSHOT;
      if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    } finally {
      await context.close();
    }
  });

  test('a <script> in a name does not run', async () => {
    const personId = randomUUID();
    await server.fixtures({
      persons: [{ id: personId, first_name: '<script>window.pwned=1</script>', last_name: 'Тест', birth_date: '1980-03-03' }],
    });
    const c = await fixtureComposition('FINAL', { subjectId: personId });
    // bypassCSP: the page's CSP would stop a script anyway; this checks that the name is escaped
    const context = await browser.newContext({
      bypassCSP: true,
      extraHTTPHeaders: { authorization: `Bearer ${mis.token}`, 'api-key': mis.secret },
    });
    try {
      const page = await context.newPage();
      assert.equal((await page.goto(server.url + formPath(c)))?.status(), 200);
      assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
      assert.match(await page.locator('body').innerText(), /^Пацієнт\nТест <script>window\.pwned=1<\/script>( \S+)?$/m);
    } finally {
      await context.close();
    }
  });
});
