/**
 * Compositions test helpers: registry rows (through POST /admin/fixtures), request bodies, and a
 * job poller that honours eta.
 */
import { randomUUID } from 'node:crypto';
import type { Mis, TestServer, CallResult } from './harness.ts';

export interface World {
  legalEntityId: string;
  otherLegalEntityId: string;
  authorId: string;
  authorTaxId: string;
  otherEmployeeId: string;
  /** employee of the same legal entity with another tax id */
  colleagueId: string;
  colleagueTaxId: string;
  personId: string;
  motherId: string;
  prepersonId: string;
  episodeId: string;
  encounterId: string;
  motherEncounterId: string;
  prepersonEncounterId: string;
  authMethodId: string;
}

export async function seedWorld(server: TestServer): Promise<World> {
  const w: World = {
    legalEntityId: randomUUID(),
    otherLegalEntityId: randomUUID(),
    authorId: randomUUID(),
    authorTaxId: String(3_000_000_000 + Math.floor(Math.random() * 999_999_999)).slice(0, 10),
    otherEmployeeId: randomUUID(),
    colleagueId: randomUUID(),
    colleagueTaxId: '2222222222',
    personId: randomUUID(),
    motherId: randomUUID(),
    prepersonId: randomUUID(),
    episodeId: randomUUID(),
    encounterId: randomUUID(),
    motherEncounterId: randomUUID(),
    prepersonEncounterId: randomUUID(),
    authMethodId: '',
  };
  const enc = (id: string, personId: string, episodeId: string | null) => ({
    id,
    person_id: personId,
    episode_id: episodeId,
    legal_entity_id: w.legalEntityId,
    employee_id: w.authorId,
  });
  // the sandbox's POST /admin/fixtures (registry capability), snake_case rows of migrations/010_registry.sql
  await server.fixtures({
    legal_entities: [
      { id: w.legalEntityId, name: 'Clinic', edrpou: '12345678' },
      { id: w.otherLegalEntityId, name: 'Other clinic', edrpou: '87654321' },
    ],
    employees: [
      { id: w.authorId, legal_entity_id: w.legalEntityId, party: { first_name: 'Ivan', last_name: 'Doctor', tax_id: w.authorTaxId } },
      { id: w.otherEmployeeId, legal_entity_id: w.otherLegalEntityId, party: { tax_id: '1111111111' } },
      { id: w.colleagueId, legal_entity_id: w.legalEntityId, party: { tax_id: w.colleagueTaxId } },
    ],
    persons: [
      { id: w.personId, birth_date: '1990-01-01', authentication_methods: [{ type: 'OTP', phone_number: '+380501112233' }] },
      { id: w.motherId, birth_date: '1992-02-02', gender: 'FEMALE' },
    ],
    prepersons: [{ id: w.prepersonId }],
    episodes: [{ id: w.episodeId, person_id: w.personId, legal_entity_id: w.legalEntityId, name: 'Flu' }],
    encounters: [
      enc(w.encounterId, w.personId, w.episodeId),
      enc(w.motherEncounterId, w.motherId, null),
      enc(w.prepersonEncounterId, w.prepersonId, null),
    ],
  });
  const m = await server.runtime.platform.db.query<{ id: string }>('SELECT id FROM person_authentication_methods WHERE person_id = $1', [
    w.personId,
  ]);
  w.authMethodId = m.rows[0].id;
  return w;
}

const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }], text: code }, value });

export interface BodyOptions {
  type?: string;
  category?: string;
  subject?: { type: 'person' | 'preperson'; id: string };
  focus?: { type: 'person' | 'preperson'; id: string };
  encounterId?: string;
  authorId?: string;
  start?: string;
  end?: string | null;
  extension?: unknown[];
}

export function createBody(w: World, o: BodyOptions = {}) {
  const subject = o.subject ?? { type: 'person', id: w.personId };
  const focus = o.focus ?? subject;
  return {
    type: { coding: [{ system: 'COMPOSITION_TYPES', code: o.type ?? 'TEMP_DISABILITY' }] },
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: o.category ?? 'SICKNESS' }] },
    event: [
      {
        code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] },
        period: { start: o.start ?? '2026-09-01T00:00:01Z', end: o.end === undefined ? '2026-09-05T20:59:59Z' : o.end },
      },
    ],
    subject: ref(subject.type, subject.id),
    encounter: ref('encounter', o.encounterId ?? w.encounterId),
    author: ref('employee', o.authorId ?? w.authorId),
    section: { focus: ref(focus.type, focus.id) },
    ...(o.extension ? { extension: o.extension } : {}),
  };
}

export async function misOf(server: TestServer, w: World, legalEntityId = w.legalEntityId): Promise<Mis> {
  return server.mis({ legalEntityId, employeeId: w.authorId });
}

/** Poll a job like an MIS: wait until its eta (capped), then GET, until it is not PENDING. */
export async function pollJob(
  mis: Mis,
  jobId: string,
  o: { timeoutMs?: number; maxWaitMs?: number; polls?: CallResult[] } = {},
): Promise<CallResult> {
  const until = Date.now() + (o.timeoutMs ?? 20_000);
  let wait = 0;
  for (;;) {
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, o.maxWaitMs ?? 1000)));
    const r = await mis.call('GET', `/api/patients/composition/job/${jobId}`);
    o.polls?.push(r);
    if (r.status !== 200 || r.body.data.status !== 'PENDING') return r;
    if (Date.now() > until) throw new Error(`job ${jobId} still PENDING`);
    wait = Math.max(10, Date.parse(r.body.data.eta) - Date.now());
  }
}

/** create → DONE; returns the job, the composition document and its href. */
export async function createComposition(mis: Mis, body: unknown) {
  const created = await mis.call('POST', '/api/patients/composition', { body });
  if (created.status !== 202) throw new Error(`create: ${created.status} ${created.text}`);
  const job = await pollJob(mis, created.body.data.id);
  return { created, job };
}

export async function createDone(mis: Mis, body: unknown) {
  const { job } = await createComposition(mis, body);
  if (job.body.data.status !== 'DONE') throw new Error(`job not DONE: ${job.text}`);
  const href: string = job.body.data.links[0].href;
  const got = await mis.call('GET', href);
  if (got.status !== 200) throw new Error(`get ${href}: ${got.status} ${got.text}`);
  return { href, document: got.body.data as Record<string, any>, id: got.body.data.identifier.value as string };
}

const ENV_DELAY = 'ESOZ_TEST_COMPOSITION_JOB_DELAY_MS';
/** Run `fn` with every composition job held `ms` after its claim (create.ts, testDelay). */
export async function withSlowJobs<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  process.env[ENV_DELAY] = String(ms);
  try {
    return await fn();
  } finally {
    delete process.env[ENV_DELAY];
  }
}
