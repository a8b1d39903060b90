/**
 * `npm run example:composition` — what an MIS does to issue a medical conclusion of temporary
 * disability (МВТН) through esoz-core, step by step over HTTP:
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

async function api(method: string, path: string, body?: unknown) {
  let res: Response;
  // the sandbox's own routes take the admin key instead of the MIS credentials
  const auth: Record<string, string> = path.startsWith('/admin/')
    ? { 'x-admin-key': ADMIN_KEY }
    : { authorization: `Bearer ${TOKEN}`, 'api-key': API_KEY };
  try {
    res = await fetch(BASE_URL + path, {
      method,
      headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    // fetch reports a refused connection as "fetch failed" with the reason in `cause`: say what to do instead.
    const reason = (err as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(
      `Cannot reach esoz-core at ${BASE_URL} (${reason?.code ?? reason?.message ?? String(err)}): ` +
        'start it with `npm start` in another terminal, or set BASE_URL to where it runs\n',
    );
    process.exit(1);
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  process.stdout.write(`    ${method} ${path} → ${res.status}\n`);
  return { status: res.status, headers: res.headers, body: json };
}

/** Poll a job the way the spec describes: timer to eta, GET, repeat while PENDING. */
async function waitForJob(jobId: string, firstEta: string) {
  let eta = firstEta;
  for (let i = 0; i < 120; i++) {
    const wait = Math.max(0, Date.parse(eta) - Date.now());
    show('waiting until eta', `${eta} (${wait} ms)`);
    await sleep(Math.min(wait, 10_000));
    const r = await api('GET', `/api/patients/composition/job/${jobId}`);
    if (r.status !== 200) throw new Error(`job status: ${r.status} ${JSON.stringify(r.body)}`);
    const job = r.body.data;
    show('job', job);
    if (job.status !== 'PENDING') return job;
    eta = job.eta;
  }
  throw new Error('job still PENDING after 120 polls');
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
const existing = await api(
  'GET',
  `/api/patients/searchComposition?subject=${PERSON_ID}&encounter=${ENCOUNTER_ID}&type=TEMP_DISABILITY&status=FINAL&limit=100`,
);
const used = new Set<string>((existing.body.data ?? []).map((d: any) => d.category.coding[0].code));
const category = ['SICKNESS', 'QUARANTINE', 'COVID19', 'PREGNANCY', 'TEMP_TRANSFER', 'PROSTHETIC', 'RESTORATION'].find((c) => !used.has(c));
if (!category) throw new Error('every self-care category already has a FINAL conclusion on this encounter; use another ENCOUNTER_ID');
show('category', category);

const today = new Date();
const day = (offset: number) =>
  new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + offset)).toISOString().slice(0, 10);
const body = {
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
const created = await api('POST', '/api/patients/composition', body);
if (created.status !== 202) throw new Error(JSON.stringify(created.body, null, 2));
show('job', created.body.data);
show('Location', created.headers.get('location') ?? '');
show('Retry-After', created.headers.get('retry-after') ?? '');

step(2, 'Poll the job, honouring eta');
const createJob = await waitForJob(created.body.data.id, created.body.data.eta);
if (createJob.status !== 'DONE') throw new Error(`create failed: ${JSON.stringify(createJob.error)}`);

step(3, 'Follow links[0].href to the PRELIMINARY composition');
const href: string = createJob.links[0].href;
const got = await api('GET', href);
const doc = got.body.data;
show('identifier', doc.identifier.value);
show('status', doc.status);
show('title (conclusion number)', doc.title);

step(4, `Sign it: throwaway ECDSA key, self-signed certificate with serialNumber TINUA-${AUTHOR_TAX_ID}`);
const signer = await makeSigner(AUTHOR_TAX_ID);
// Sign the document exactly as received (any key order / whitespace is fine: the service compares JSON by meaning).
const cms = await signAttached(signer, JSON.stringify(doc));
show('CMS (base64, first 60 chars)', `${cms.slice(0, 60)}…`);

step(5, 'Send the signature (async)');
const signReq = await api('PATCH', `/api/patients/composition/${doc.identifier.value}/sign`, { data: cms });
if (signReq.status !== 202) throw new Error(JSON.stringify(signReq.body, null, 2));
show('job', signReq.body.data);
const signJob = await waitForJob(signReq.body.data.id, signReq.body.data.eta);
if (signJob.status !== 'DONE') throw new Error(`sign failed: ${JSON.stringify(signJob.error)}`);

step(6, 'Read it again');
const final = await api('GET', href);
show('status', final.body.data.status);
show('title', final.body.data.title);
process.stdout.write(`\nDone: conclusion ${final.body.data.title} is ${final.body.data.status}.\n`);

// ── the МВТН chains ─────────────────────────────────────────────────────────────────────────────
if (!ADMIN_KEY) {
  process.stdout.write(
    '\nADMIN_KEY not set: the chains (extension, replacement, refinement) need new encounters from the sandbox; skipped.\n',
  );
  process.exit(0);
}

/** A new encounter of the patient (a person or a preperson), in the demo episode (the sandbox's fixtures). */
async function newEncounter(patientId: string): Promise<string> {
  const id = crypto.randomUUID();
  const r = await api('POST', '/admin/fixtures', {
    encounters: [{ id, person_id: patientId, episode_id: EPISODE_ID, legal_entity_id: LEGAL_ENTITY_ID, employee_id: AUTHOR_ID }],
  });
  if (r.status !== 200) throw new Error(`fixtures: ${r.status} ${JSON.stringify(r.body)}`);
  return id;
}

/** An МВТН body: `patient` is the subject and the person on leave. */
function mvtn(o: {
  patient: { type: 'person' | 'preperson'; id: string };
  encounterId: string;
  category: string;
  start: string;
  end: string;
  relatesTo?: { code: 'appends' | 'replaces'; id: string };
}) {
  return {
    ...body,
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: o.category }] },
    event: [{ ...body.event[0], period: { start: `${o.start}T00:00:01Z`, end: `${o.end}T20:59:59Z` } }],
    subject: ref(o.patient.type, o.patient.id),
    encounter: ref('encounter', o.encounterId),
    section: { focus: ref(o.patient.type, o.patient.id) },
    ...(o.relatesTo ? { relatesTo: { code: o.relatesTo.code, targetIdentifier: ref('composition', o.relatesTo.id) } } : {}),
  };
}

/** create → job → the PRELIMINARY document; then sign → job; answers the composition's id and href. */
async function createAndSign(b: unknown): Promise<{ id: string; href: string }> {
  const c = await api('POST', '/api/patients/composition', b);
  if (c.status !== 202) throw new Error(JSON.stringify(c.body, null, 2));
  const cj = await waitForJob(c.body.data.id, c.body.data.eta);
  if (cj.status !== 'DONE') throw new Error(`create failed: ${JSON.stringify(cj.error)}`);
  const href: string = cj.links[0].href;
  const draft = (await api('GET', href)).body.data;
  const s = await api('PATCH', `/api/patients/composition/${draft.identifier.value}/sign`, {
    data: await signAttached(signer, JSON.stringify(draft)),
  });
  if (s.status !== 202) throw new Error(JSON.stringify(s.body, null, 2));
  const sj = await waitForJob(s.body.data.id, s.body.data.eta);
  if (sj.status !== 'DONE') throw new Error(`sign failed: ${JSON.stringify(sj.error)}`);
  return { id: draft.identifier.value, href };
}

const statusOf = async (href: string) => (await api('GET', href)).body.data.status as string;

step(7, 'RC_5 extension: `appends` the FINAL conclusion with the days that follow its end');
// a continuation names the SL number ERLN gave the conclusion it continues: wait for ERLN's answer first
const integration = `/api/patients/${PERSON_ID}/composition/${doc.identifier.value}/episode/${EPISODE_ID}/encounter/${ENCOUNTER_ID}/integrationData`;
for (let i = 0; ; i++) {
  const tasks = (await api('GET', integration)).body.data as { integrationStatus: string | null; details: { SL_NUM?: string } }[];
  const done = tasks.find((t) => t.integrationStatus);
  if (done) {
    show('ERLN', `${done.integrationStatus} ${done.details.SL_NUM ?? ''}`);
    break;
  }
  if (i > 100) throw new Error('ERLN did not answer within 20 s');
  await sleep(200);
}
const extension = await createAndSign(
  mvtn({
    patient: { type: 'person', id: PERSON_ID },
    encounterId: await newEncounter(PERSON_ID),
    category,
    start: day(5),
    end: day(9),
    relatesTo: { code: 'appends', id: doc.identifier.value },
  }),
);
show('extension', `${await statusOf(extension.href)} (relatesTo appends ${doc.identifier.value})`);
show('the extended one', await statusOf(href));

step(8, 'Cancel a conclusion, then RC_7: a replacement `replaces` the cancelled one');
const wrong = await createAndSign(
  mvtn({ patient: { type: 'person', id: PERSON_ID }, encounterId: await newEncounter(PERSON_ID), category, start: day(20), end: day(24) }),
);
const cancelContent = {
  id: wrong.id,
  reason: {
    coding: [{ system: 'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY', code: 'INCORRECT_DISABILITY_PERIOD' }],
    text: 'wrong period',
  },
};
const cancel = await api('PATCH', `/api/patients/composition/${wrong.id}/cancel`, {
  data: await signAttached(signer, JSON.stringify(cancelContent)),
});
if (cancel.status !== 202) throw new Error(JSON.stringify(cancel.body, null, 2));
const cancelJob = await waitForJob(cancel.body.data.id, cancel.body.data.eta);
if (cancelJob.status !== 'DONE') throw new Error(`cancel failed: ${JSON.stringify(cancelJob.error)}`);
show('cancelled', await statusOf(wrong.href));
const replacement = await createAndSign(
  mvtn({
    patient: { type: 'person', id: PERSON_ID },
    encounterId: await newEncounter(PERSON_ID),
    category,
    start: day(20),
    end: day(22),
    relatesTo: { code: 'replaces', id: wrong.id },
  }),
);
show('replacement', `${await statusOf(replacement.href)} (relatesTo replaces ${wrong.id})`);
show('the replaced one', await statusOf(wrong.href));

step(9, 'RC_6 refinement: a conclusion of an unidentified patient, then the identified person’s `replaces` it');
const preperson = await api('POST', '/api/prepersons', { external_id: `mis-${Date.now()}`, gender: 'MALE', first_name: 'Невідомий' });
if (preperson.status !== 201) throw new Error(JSON.stringify(preperson.body, null, 2));
const prepersonId: string = preperson.body.data.id;
show('preperson', prepersonId);
const unidentified = await createAndSign(
  mvtn({
    patient: { type: 'preperson', id: prepersonId },
    encounterId: await newEncounter(prepersonId),
    category: 'SICKNESS',
    start: day(30),
    end: day(33),
  }),
);
show('preperson’s conclusion', await statusOf(unidentified.href));
const refined = await createAndSign(
  mvtn({
    patient: { type: 'person', id: PERSON_ID },
    encounterId: await newEncounter(PERSON_ID),
    category: 'SICKNESS',
    start: day(30),
    end: day(33),
    relatesTo: { code: 'replaces', id: unidentified.id },
  }),
);
show('refinement', `${await statusOf(refined.href)} (relatesTo replaces ${unidentified.id})`);
show('the preperson’s one', await statusOf(unidentified.href));
step(10, 'What ERLN received (the sandbox’s ERLN simulator): a request type per link');
const mine = new Map([
  [extension.id, 'extension'],
  [replacement.id, 'replacement'],
  [refined.id, 'refinement'],
]);
for (let i = 0; i < 50; i++) {
  const records = (await api('GET', '/admin/erln')).body.data.records as { composition_id: string }[];
  if ([...mine.keys()].every((id) => records.some((r) => r.composition_id === id))) break;
  await sleep(200);
}
for (const r of (await api('GET', '/admin/erln')).body.data.records as {
  composition_id: string;
  sl_num: string;
  request_type: number;
  previous_sl_num: string | null;
}[]) {
  const what = mine.get(r.composition_id);
  if (what) show(what, `${r.sl_num}, REQUEST_TYPE ${r.request_type}${r.previous_sl_num ? `, continues ${r.previous_sl_num}` : ''}`);
}
process.stdout.write('\nDone: the extension, the replacement and the refinement are FINAL, the conclusions they continue AMENDED.\n');
