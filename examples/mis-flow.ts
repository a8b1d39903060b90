/**
 * `npm run example:composition` — what an MIS does to issue a medical conclusion of temporary
 * disability (МВТН) through esoz-core, step by step over HTTP, with the typed client (src/client:
 * openapi-fetch over the types generated from /openapi.json; every call below is checked by tsc against
 * the API). Each call is printed as it goes (`METHOD path → status`):
 *
 *   1. POST /api/patients/composition             → 202 + async job (eta)
 *   2. GET  /api/patients/composition/job/{id}     → poll at eta until DONE
 *   3. GET  links[0].href                          → the PRELIMINARY composition (title = its number)
 *   4. sign that JSON: CMS SignedData, attached, with the doctor's key
 *   5. PATCH /api/patients/composition/{id}/sign   → 202 + async job; poll until DONE
 *   6. GET  the composition again                  → FINAL
 *
 * Then the МВТН chains, each a create with `relatesTo` followed by a sign (ESOZ gives them no endpoints of
 * their own), on encounters the example adds through the sandbox's POST /admin/fixtures (ADMIN_KEY):
 *   7. RC_5 extension: `appends` the FINAL one with the days that follow → the new one FINAL, the old AMENDED
 *   8. cancel + RC_7 replacement: cancel an МВТН (signed cancel body), then `replaces` it → FINAL, the old AMENDED
 *   9. RC_6 refinement: an МВТН of an unidentified patient (POST /api/prepersons), then the identified person's
 *      `replaces` it → FINAL (and now ERLN gets it), the preperson's AMENDED
 *
 * Environment:
 *   BASE_URL  default http://localhost:4000
 *   TOKEN     access token  ┐ `npm start` on the embedded database prints them
 *   API_KEY   MIS api-key   │ ("demo token", "demo api-key", "admin key") and the line
 *   ADMIN_KEY sandbox key   ┘ that exports them; without ADMIN_KEY the chains (7–9) are skipped
 *   PERSON_ID, ENCOUNTER_ID, AUTHOR_ID, AUTHOR_TAX_ID  default: the sandbox demo data
 *
 * Signing: production signatures are КЕП (DSTU 4145, qualified CA). The embedded sandbox runs with
 * SIGNATURE_TRUST=any-test-ca: any valid RSA/ECDSA CMS is accepted when its certificate carries the
 * author's tax id. So this script makes a throwaway ECDSA key and a self-signed certificate whose
 * subject serialNumber is `TINUA-<tax id>` — the same thing an MIS test rig can do.
 */
import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Middleware } from 'openapi-fetch';
import { createEsozClient, type JobState, type CreateCompositionBody } from '../src/client/client.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';

const BASE_URL = (process.env.BASE_URL ?? 'http://localhost:4000').replace(/\/$/, '');
const TOKEN = process.env.TOKEN ?? '';
const API_KEY = process.env.API_KEY ?? '';
const ADMIN_KEY = process.env.ADMIN_KEY ?? '';
const PERSON_ID = process.env.PERSON_ID ?? DEMO.personOtpId;
const ENCOUNTER_ID = process.env.ENCOUNTER_ID ?? DEMO.encounterId;
const AUTHOR_ID = process.env.AUTHOR_ID ?? DEMO.doctorEmployeeId;
const AUTHOR_TAX_ID = process.env.AUTHOR_TAX_ID ?? DEMO.doctorTaxId;
const EPISODE_ID = process.env.EPISODE_ID ?? DEMO.episodeId;
const LEGAL_ENTITY_ID = process.env.LEGAL_ENTITY_ID ?? DEMO.legalEntityId;

if (!TOKEN || !API_KEY) {
  process.stderr.write(`Set TOKEN and API_KEY.

  Start the embedded sandbox in another terminal:   npm start
  It prints "demo token: …" and "demo api-key: …" (the same on every restart of the same DATA_DIR). Then:

    TOKEN=<demo token> API_KEY=<demo api-key> npm run example:composition

  Against another server also set BASE_URL (now ${BASE_URL}) and, if not the demo data,
  PERSON_ID, ENCOUNTER_ID, AUTHOR_ID, AUTHOR_TAX_ID.
`);
  process.exit(2);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const step = (n: number | string, text: string) => process.stdout.write(`\n[${n}] ${text}\n`);
const show = (label: string, v: unknown) => process.stdout.write(`    ${label}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);

/** Prints every call as it goes; a server that cannot be reached ends the example with what to do. */
const printCalls: Middleware = {
  onResponse({ request, response }) {
    const url = new URL(request.url);
    process.stdout.write(`    ${request.method} ${url.pathname}${url.search} → ${response.status}\n`);
  },
  onError({ error }) {
    // fetch reports a refused connection as "fetch failed" with the reason in `cause`: say what to do instead.
    const reason = (error as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(
      `Cannot reach esoz-core at ${BASE_URL} (${reason?.code ?? reason?.message ?? String(error)}): ` +
        'start it with `npm start` in another terminal, or set BASE_URL to where it runs\n',
    );
    process.exit(1);
  },
};
const esoz = createEsozClient({ baseUrl: BASE_URL, token: TOKEN, apiKey: API_KEY });
// the sandbox's own routes (/admin) take the admin key instead of the MIS credentials
const admin = createEsozClient({ baseUrl: BASE_URL, adminKey: ADMIN_KEY });
esoz.use(printCalls);
admin.use(printCalls);

/** The answer's data; an ESOZ error (the `{meta, error}` envelope) stops the example with its text. */
function ok<T>(answer: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (answer.error !== undefined || answer.data === undefined)
    throw new Error(`${what}: ${answer.response.status} ${JSON.stringify(answer.error, null, 2)}`);
  return answer.data;
}

/** Poll a job the way the spec describes: timer to eta, GET, repeat while PENDING. */
async function waitForJob(job: JobState): Promise<JobState> {
  for (let i = 0; i < 120 && job.status === 'PENDING'; i++) {
    const wait = Math.max(0, Date.parse(job.eta) - Date.now());
    show('waiting until eta', `${job.eta} (${wait} ms)`);
    await sleep(Math.min(wait, 10_000));
    const answer = await esoz.GET('/api/patients/composition/job/{asyncJobId}', { params: { path: { asyncJobId: job.id } } });
    job = ok(answer, 'job status').data;
    show('job', job);
  }
  if (job.status === 'PENDING') throw new Error('job still PENDING after 120 polls');
  return job;
}

/** The composition a DONE create job links: …/patients/{patientId}/encounter/{encounterId}/composition/{id}. */
async function getComposition(patientId: string, encounterId: string, id: string) {
  const answer = await esoz.GET('/api/patients/{patientId}/encounter/{encounterId}/composition/{id}', {
    params: { path: { patientId, encounterId, id } },
  });
  return ok(answer, 'get composition').data;
}

const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }], text: code }, value });

// ── signing: a throwaway key and a self-signed certificate carrying the doctor's tax id ─────────
const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto });

async function makeSigner(taxId: string) {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: Date.now() % 2_000_000_000 });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.6', value: new asn1js.PrintableString({ value: 'UA' }) }),
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: 'Sandbox doctor' }) }),
      // ETSI EN 319 412-1 natural-person identifier: the tax id (РНОКПП) as TINUA-<digits>
      new pkijs.AttributeTypeAndValue({ type: '2.5.4.5', value: new asn1js.PrintableString({ value: `TINUA-${taxId}` }) }),
    ],
  });
  cert.subject = name;
  cert.issuer = name;
  cert.notBefore.value = new Date(Date.now() - 60_000);
  cert.notAfter.value = new Date(Date.now() + 86400_000);
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await cert.sign(keys.privateKey, 'SHA-256', engine);
  return { cert, keys };
}

async function signAttached(signer: Awaited<ReturnType<typeof makeSigner>>, json: string): Promise<string> {
  const data = new TextEncoder().encode(json);
  const digest = await webcrypto.subtle.digest('SHA-256', data);
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.cert.issuer, serialNumber: signer.cert.serialNumber }),
    signedAttrs: new pkijs.SignedAndUnsignedAttributes({
      type: 0,
      attributes: [
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.5', values: [new asn1js.UTCTime({ valueDate: new Date() })] }),
        new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: digest })] }),
      ],
    }),
  });
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.7.1',
      eContent: new asn1js.OctetString({ valueHex: data }),
    }),
    signerInfos: [signerInfo],
    certificates: [signer.cert],
  });
  await signed.sign(signer.keys.privateKey, 0, 'SHA-256', undefined, engine);
  const ci = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signed.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false)).toString('base64');
}

// ── the flow ────────────────────────────────────────────────────────────────────────────────
process.stdout.write(`esoz-core MIS flow against ${BASE_URL}\n  patient ${PERSON_ID}, encounter ${ENCOUNTER_ID}, author ${AUTHOR_ID}\n`);

// Rule 1127 allows one FINAL conclusion per encounter, type and category: pick a category still free,
// so the example can run again and again on the same sandbox.
step(0, 'Which categories already have a FINAL conclusion on this encounter?');
const existing = await esoz.GET('/api/patients/searchComposition', {
  params: { query: { subject: PERSON_ID, encounter: ENCOUNTER_ID, type: 'TEMP_DISABILITY', status: 'FINAL', limit: 100 } },
});
const used = new Set(ok(existing, 'search').data.map((d) => d.category?.coding[0]?.code));
const category = ['SICKNESS', 'QUARANTINE', 'COVID19', 'PREGNANCY', 'TEMP_TRANSFER', 'PROSTHETIC', 'RESTORATION'].find((c) => !used.has(c));
if (!category) throw new Error('every self-care category already has a FINAL conclusion on this encounter; use another ENCOUNTER_ID');
show('category', category);

const today = new Date();
const day = (offset: number) =>
  new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + offset)).toISOString().slice(0, 10);
const body: CreateCompositionBody = {
  type: { coding: [{ system: 'COMPOSITION_TYPES', code: 'TEMP_DISABILITY' }] },
  category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: category }] },
  event: [
    {
      code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] },
      // T00:00:01Z / T20:59:59Z: start and end of the Kyiv calendar day
      period: { start: `${day(0)}T00:00:01Z`, end: `${day(4)}T20:59:59Z` },
    },
  ],
  subject: ref('person', PERSON_ID),
  encounter: ref('encounter', ENCOUNTER_ID),
  author: ref('employee', AUTHOR_ID),
  section: { focus: ref('person', PERSON_ID) },
  extension: [{ valueCode: 'IS_ACCIDENT', valueBoolean: false }],
};

step(1, 'Create the composition (async)');
const created = await esoz.POST('/api/patients/composition', { body });
show('job', ok(created, 'create').data);
show('Location', created.response.headers.get('location') ?? '');
show('Retry-After', created.response.headers.get('retry-after') ?? '');

step(2, 'Poll the job, honouring eta');
const createJob = await waitForJob(ok(created, 'create').data);
if (createJob.status !== 'DONE') throw new Error(`create failed: ${JSON.stringify(createJob.error)}`);

step(3, 'Follow links[0].href to the PRELIMINARY composition');
show('links[0].href', createJob.links[0]!.href);
const compositionId = createJob.links[0]!.href.split('/').pop()!;
const doc = await getComposition(PERSON_ID, ENCOUNTER_ID, compositionId);
show('identifier', doc.identifier.value);
show('status', doc.status);
show('title (conclusion number)', doc.title ?? '');

step(4, `Sign it: throwaway ECDSA key, self-signed certificate with serialNumber TINUA-${AUTHOR_TAX_ID}`);
const signer = await makeSigner(AUTHOR_TAX_ID);
// Sign the document exactly as received (any key order / whitespace is fine: the service compares JSON by meaning).
const cms = await signAttached(signer, JSON.stringify(doc));
show('CMS (base64, first 60 chars)', `${cms.slice(0, 60)}…`);

step(5, 'Send the signature (async)');
const signReq = await esoz.PATCH('/api/patients/composition/{id}/sign', { params: { path: { id: compositionId } }, body: { data: cms } });
show('job', ok(signReq, 'sign').data);
const signJob = await waitForJob(ok(signReq, 'sign').data);
if (signJob.status !== 'DONE') throw new Error(`sign failed: ${JSON.stringify(signJob.error)}`);

step(6, 'Read it again');
const final = await getComposition(PERSON_ID, ENCOUNTER_ID, compositionId);
show('status', final.status);
show('title', final.title ?? '');
process.stdout.write(`\nDone: conclusion ${final.title} is ${final.status}.\n`);

// ── the МВТН chains ─────────────────────────────────────────────────────────────────────────────
if (!ADMIN_KEY) {
  process.stdout.write(
    '\nADMIN_KEY not set: the chains (extension, replacement, refinement) need new encounters from the sandbox; skipped.\n',
  );
  process.exit(0);
}

type Patient = { type: 'person' | 'preperson'; id: string };

/** A new encounter of the patient (a person or a preperson), in the demo episode (the sandbox's fixtures). */
async function newEncounter(patient: Patient): Promise<string> {
  const id = crypto.randomUUID();
  const answer = await admin.POST('/admin/fixtures', {
    body: {
      encounters: [{ id, person_id: patient.id, episode_id: EPISODE_ID, legal_entity_id: LEGAL_ENTITY_ID, employee_id: AUTHOR_ID }],
    },
  });
  ok(answer, 'fixtures');
  return id;
}

/** An МВТН of `patient` (the subject and the person on leave) on a new encounter of theirs. */
async function mvtn(o: {
  patient: Patient;
  category: string;
  start: string;
  end: string;
  relatesTo?: { code: 'appends' | 'replaces'; id: string };
}): Promise<CreateCompositionBody> {
  return {
    ...body,
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: o.category }] },
    event: [{ ...body.event[0]!, period: { start: `${o.start}T00:00:01Z`, end: `${o.end}T20:59:59Z` } }],
    subject: ref(o.patient.type, o.patient.id),
    encounter: ref('encounter', await newEncounter(o.patient)),
    section: { focus: ref(o.patient.type, o.patient.id) },
    ...(o.relatesTo ? { relatesTo: { code: o.relatesTo.code, targetIdentifier: ref('composition', o.relatesTo.id) } } : {}),
  };
}

/** create → job → the PRELIMINARY document; then sign → job. Answers how to read the composition again. */
async function createAndSign(b: CreateCompositionBody): Promise<{ id: string; status: () => Promise<string> }> {
  const createJob = await waitForJob(ok(await esoz.POST('/api/patients/composition', { body: b }), 'create').data);
  if (createJob.status !== 'DONE') throw new Error(`create failed: ${JSON.stringify(createJob.error)}`);
  const id = createJob.links[0]!.href.split('/').pop()!;
  const read = () => getComposition(b.subject.value, b.encounter.value, id);
  const cms = await signAttached(signer, JSON.stringify(await read()));
  const signJob = await waitForJob(
    ok(await esoz.PATCH('/api/patients/composition/{id}/sign', { params: { path: { id } }, body: { data: cms } }), 'sign').data,
  );
  if (signJob.status !== 'DONE') throw new Error(`sign failed: ${JSON.stringify(signJob.error)}`);
  return { id, status: async () => (await read()).status };
}

const person: Patient = { type: 'person', id: PERSON_ID };
const signed = { id: compositionId, status: async () => (await getComposition(PERSON_ID, ENCOUNTER_ID, compositionId)).status };

step(7, 'RC_5 extension: `appends` the FINAL conclusion with the days that follow its end');
// a continuation names the SL number ERLN gave the conclusion it continues: wait for ERLN's answer first
for (let i = 0; ; i++) {
  const answer = await esoz.GET('/api/patients/{patientId}/composition/{id}/episode/{episodeId}/encounter/{encounterId}/integrationData', {
    params: { path: { patientId: PERSON_ID, id: compositionId, episodeId: EPISODE_ID, encounterId: ENCOUNTER_ID } },
  });
  const done = ok(answer, 'integrationData').data.find((t) => t.integrationStatus);
  if (done) {
    show('ERLN', `${done.integrationStatus} ${done.details?.SL_NUM ?? ''}`);
    break;
  }
  if (i > 100) throw new Error('ERLN did not answer within 20 s');
  await sleep(200);
}
const extension = await createAndSign(
  await mvtn({ patient: person, category, start: day(5), end: day(9), relatesTo: { code: 'appends', id: compositionId } }),
);
show('extension', `${await extension.status()} (relatesTo appends ${compositionId})`);
show('the extended one', await signed.status());

step(8, 'Cancel a conclusion, then RC_7: a replacement `replaces` the cancelled one');
const wrong = await createAndSign(await mvtn({ patient: person, category, start: day(20), end: day(24) }));
const cancelContent = {
  id: wrong.id,
  reason: {
    coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_DISABILITY_PERIOD' }],
    text: 'wrong period',
  },
};
const cancel = await esoz.PATCH('/api/patients/composition/{id}/cancel', {
  params: { path: { id: wrong.id } },
  body: { data: await signAttached(signer, JSON.stringify(cancelContent)) },
});
const cancelJob = await waitForJob(ok(cancel, 'cancel').data);
if (cancelJob.status !== 'DONE') throw new Error(`cancel failed: ${JSON.stringify(cancelJob.error)}`);
show('cancelled', await wrong.status());
const replacement = await createAndSign(
  await mvtn({ patient: person, category, start: day(20), end: day(22), relatesTo: { code: 'replaces', id: wrong.id } }),
);
show('replacement', `${await replacement.status()} (relatesTo replaces ${wrong.id})`);
show('the replaced one', await wrong.status());

step(9, 'RC_6 refinement: a conclusion of an unidentified patient, then the identified person’s `replaces` it');
const preperson = await esoz.POST('/api/prepersons', {
  body: { external_id: `mis-${Date.now()}`, gender: 'MALE', first_name: 'Невідомий' },
});
const unknownPatient: Patient = { type: 'preperson', id: ok(preperson, 'preperson').data.id };
show('preperson', unknownPatient.id);
const unidentified = await createAndSign(await mvtn({ patient: unknownPatient, category: 'SICKNESS', start: day(30), end: day(33) }));
show('preperson’s conclusion', await unidentified.status());
const refined = await createAndSign(
  await mvtn({ patient: person, category: 'SICKNESS', start: day(30), end: day(33), relatesTo: { code: 'replaces', id: unidentified.id } }),
);
show('refinement', `${await refined.status()} (relatesTo replaces ${unidentified.id})`);
show('the preperson’s one', await unidentified.status());

step(10, 'What ERLN received (the sandbox’s ERLN simulator): a request type per link');
const mine = new Map([
  [extension.id, 'extension'],
  [replacement.id, 'replacement'],
  [refined.id, 'refinement'],
]);
const erlnRecords = async () => ok(await admin.GET('/admin/erln'), 'ERLN simulator').data.records;
let records = await erlnRecords();
for (let i = 0; i < 50 && ![...mine.keys()].every((id) => records.some((r) => r.composition_id === id)); i++) {
  await sleep(200);
  records = await erlnRecords();
}
for (const r of records) {
  const what = mine.get(r.composition_id);
  if (what) show(what, `${r.sl_num}, REQUEST_TYPE ${r.request_type}${r.previous_sl_num ? `, continues ${r.previous_sl_num}` : ''}`);
}
process.stdout.write('\nDone: the extension, the replacement and the refinement are FINAL, the conclusions they continue AMENDED.\n');
