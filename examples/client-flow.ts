/**
 * `npm run example:client` — the МВТН sequence of examples/mis-flow.ts through the typed client
 * (src/client: openapi-fetch over the types generated from /openapi.json), signing with the sandbox:
 *
 *   1. POST  /api/patients/composition               → 202 + async job
 *   2. GET   /api/patients/composition/job/{id}       → poll at eta until DONE
 *   3. GET   the composition its link names           → PRELIMINARY
 *   4. POST  /admin/sign {content, tax_id}            → the CMS (the sandbox signs for the doctor)
 *   5. PATCH /api/patients/composition/{id}/sign      → 202 + async job; poll until DONE
 *   6. GET   the composition again                    → FINAL
 *
 * Environment (what `npm start` prints): BASE_URL, TOKEN, API_KEY, ADMIN_KEY; PERSON_ID, ENCOUNTER_ID,
 * AUTHOR_ID, AUTHOR_TAX_ID default to the sandbox demo data.
 */
import { fileURLToPath } from 'node:url';
import { createEsozClient, type EsozClient, type JobState, type CreateCompositionBody } from '../src/client/client.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';

export interface ClientFlowOptions {
  baseUrl: string;
  token: string;
  apiKey: string;
  adminKey: string;
  personId?: string;
  encounterId?: string;
  authorId?: string;
  authorTaxId?: string;
  log?: (line: string) => void;
}

const SELF_CARE_CATEGORIES = ['SICKNESS', 'QUARANTINE', 'COVID19', 'PREGNANCY', 'TEMP_TRANSFER', 'PROSTHETIC', 'RESTORATION'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }] }, value });

/** Poll a job the way the spec describes: wait until its eta, GET it, again while PENDING. */
async function waitForJob(esoz: EsozClient, job: JobState, log: (line: string) => void): Promise<JobState> {
  for (let i = 0; i < 120 && job.status === 'PENDING'; i++) {
    await sleep(Math.min(Math.max(0, Date.parse(job.eta) - Date.now()), 10_000));
    const { data, error } = await esoz.GET('/api/patients/composition/job/{asyncJobId}', { params: { path: { asyncJobId: job.id } } });
    if (error) throw new Error(`job status: ${JSON.stringify(error)}`);
    job = data.data;
    log(`    job ${job.id}: ${job.status}`);
  }
  return job;
}

/** The flow; answers the signed composition's id and status. */
export async function clientFlow(o: ClientFlowOptions): Promise<{ compositionId: string; status: string }> {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const personId = o.personId ?? DEMO.personOtpId;
  const encounterId = o.encounterId ?? DEMO.encounterId;
  const esoz = createEsozClient({ baseUrl: o.baseUrl, token: o.token, apiKey: o.apiKey });
  const admin = createEsozClient({ baseUrl: o.baseUrl, adminKey: o.adminKey });

  // Rule 1127 allows one FINAL conclusion per encounter, type and category: take a category still free.
  const found = await esoz.GET('/api/patients/searchComposition', {
    params: { query: { subject: personId, encounter: encounterId, type: 'TEMP_DISABILITY', status: 'FINAL', limit: 100 } },
  });
  if (found.error) throw new Error(`search: ${JSON.stringify(found.error)}`);
  const used = new Set(found.data.data.map((d) => d.category?.coding[0]?.code));
  const category = SELF_CARE_CATEGORIES.find((c) => !used.has(c));
  if (!category) throw new Error('every self-care category already has a FINAL conclusion on this encounter; use another ENCOUNTER_ID');

  const day = (offset: number) => {
    const d = new Date();
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + offset)).toISOString().slice(0, 10);
  };
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
    subject: ref('person', personId),
    encounter: ref('encounter', encounterId),
    author: ref('employee', o.authorId ?? DEMO.doctorEmployeeId),
    section: { focus: ref('person', personId) },
  };

  log(`[1] create (${category})`);
  const created = await esoz.POST('/api/patients/composition', { body });
  if (created.error) throw new Error(`create: ${JSON.stringify(created.error)}`);
  log(`[2] poll the job (Location ${created.response.headers.get('location')})`);
  const createJob = await waitForJob(esoz, created.data.data, log);
  if (createJob.status !== 'DONE') throw new Error(`create job ${createJob.status}: ${JSON.stringify(createJob.error)}`);

  // the DONE job links the composition: …/patients/{patientId}/encounter/{encounterId}/composition/{id}
  const compositionId = createJob.links[0]!.href.split('/').pop()!;
  const at = { params: { path: { patientId: personId, encounterId, id: compositionId } } };
  log(`[3] the composition ${compositionId}`);
  const draft = await esoz.GET('/api/patients/{patientId}/encounter/{encounterId}/composition/{id}', at);
  if (draft.error) throw new Error(`get: ${JSON.stringify(draft.error)}`);
  log(`    ${draft.data.data.status} ${draft.data.data.title ?? ''}`);

  log('[4] the sandbox signs it for the doctor (POST /admin/sign)');
  const cms = await admin.POST('/admin/sign', { body: { content: draft.data.data, tax_id: o.authorTaxId ?? DEMO.doctorTaxId } });
  if (cms.error) throw new Error(`admin sign: ${JSON.stringify(cms.error)}`);

  log('[5] sign');
  const signed = await esoz.PATCH('/api/patients/composition/{id}/sign', {
    params: { path: { id: compositionId } },
    body: { data: cms.data.data.data },
  });
  if (signed.error) throw new Error(`sign: ${JSON.stringify(signed.error)}`);
  const signJob = await waitForJob(esoz, signed.data.data, log);
  if (signJob.status !== 'DONE') throw new Error(`sign job ${signJob.status}: ${JSON.stringify(signJob.error)}`);

  const final = await esoz.GET('/api/patients/{patientId}/encounter/{encounterId}/composition/{id}', at);
  if (final.error) throw new Error(`get: ${JSON.stringify(final.error)}`);
  log(`[6] ${final.data.data.status}`);
  return { compositionId, status: final.data.data.status };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const env = (name: string) => process.env[name] ?? '';
  if (!env('TOKEN') || !env('API_KEY') || !env('ADMIN_KEY')) {
    process.stderr.write('Set TOKEN, API_KEY and ADMIN_KEY (and BASE_URL): `npm start` prints the line to export.\n');
    process.exit(2);
  }
  await clientFlow({
    baseUrl: env('BASE_URL') || 'http://localhost:4000',
    token: env('TOKEN'),
    apiKey: env('API_KEY'),
    adminKey: env('ADMIN_KEY'),
    personId: process.env.PERSON_ID,
    encounterId: process.env.ENCOUNTER_ID,
    authorId: process.env.AUTHOR_ID,
    authorTaxId: process.env.AUTHOR_TAX_ID,
  });
}
