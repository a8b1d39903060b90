/**
 * The growth scenario's data (bench server only, BENCH_GROWTH_ROWS=n): n medication requests, n
 * compositions with their finished create jobs, n SMS attempts and n SMS outbox rows, written by
 * generate_series statements so that a million rows take a minute, not an hour of HTTP calls.
 *
 * Ids are md5 of a label and the row's number (`md5('bench-mr-' || i)::uuid`): random like the
 * service's uuids (so the indexes are as scattered as in production), yet computable again, which is
 * how the sample the load generator requests is spread over the whole table. Filler MRs are copies of
 * the demo OTP MR (whatever columns the table has), so every one of them passes the resend's checks;
 * the record is expanded in a LATERAL join: `(jsonb_populate_record(…)).*` calls the function once per
 * column, forty times a row.
 * Nothing here is live: the attempts are past MR_SEND_TIMEOUT (they only cost pruning and index
 * depth), the jobs are DONE within JOB_RETENTION_DAYS, the outbox rows SENT.
 */
import type { Db } from '../src/platform/db.ts';
import { DEMO } from '../src/sandbox/demo-data.ts';

/** i-th row's spread of ages: within 30 days for MRs and compositions, 6 days for jobs, 1 day for SMS */
const SQL = {
  medicationRequests: `
    WITH template AS MATERIALIZED (SELECT to_jsonb(m) AS row FROM medication_requests m WHERE m.id = $1)
    INSERT INTO medication_requests
    SELECT r.*
      FROM template t, generate_series(1, $2::int) i,
           LATERAL jsonb_populate_record(NULL::medication_requests, t.row || jsonb_build_object(
             'id', md5('bench-mr-' || i)::uuid,
             'request_number', '8888-' || lpad((i / 100000000)::text, 4, '0') || '-' || lpad(((i / 10000) % 10000)::text, 4, '0') || '-' || lpad((i % 10000)::text, 4, '0'),
             'inserted_at', now() - make_interval(secs => i % 2592000),
             'updated_at', now() - make_interval(secs => i % 2592000))) r`,
  compositions: `
    INSERT INTO compositions (id, job_id, status, type_code, category_code, title, subject_type, subject_id,
                              encounter_id, episode_id, author_id, custodian_id, client_id, document,
                              signed_at, inserted_at, updated_at)
    SELECT c, md5('bench-job-' || i)::uuid, (ARRAY['PRELIMINARY', 'FINAL', 'ENTERED_IN_ERROR'])[1 + i % 3],
           'TEMP_DISABILITY', 'SICKNESS', 'bench-' || i, 'person', md5('bench-person-' || (i / 4))::uuid,
           md5('bench-encounter-' || i)::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid,
           json_build_object('id', c, 'identifier', json_build_object('value', c), 'title', 'bench-' || i,
                             'text', repeat('Довідка про тимчасову непрацездатність. ', 20))::text,
           CASE WHEN i % 3 > 0 THEN t END, t, t
      FROM generate_series(1, $1::int) i,
           LATERAL (SELECT md5('bench-composition-' || i)::uuid AS c, now() - make_interval(secs => i % 2592000) AS t) x`,
  compositionJobs: `
    INSERT INTO composition_jobs (id, kind, client_id, legal_entity_id, request_hash, request, composition_id, status,
                                  links, first_eta, attempts, started_at, finished_at, inserted_at)
    SELECT md5('bench-job-' || i)::uuid, 'CREATE', $2::uuid, $3::uuid, md5('bench-request-' || i), '{}', c, 'DONE',
           jsonb_build_array(jsonb_build_object('entity', 'composition', 'href', '/api/patients/composition/' || c)),
           t, 1, t, t, t
      FROM generate_series(1, $1::int) i,
           LATERAL (SELECT md5('bench-composition-' || i)::uuid AS c, now() - make_interval(secs => i % 518400) AS t) x`,
  smsAttempts: `
    INSERT INTO sms_attempts (entity_name, entity_id, attempted_at)
    SELECT 'medication_request', md5('bench-mr-' || i)::uuid::text, now() - make_interval(secs => 400 + i % 80000)
      FROM generate_series(1, $1::int) i`,
  smsOutbox: `
    INSERT INTO sms_outbox (phone_number, body, status, entity_name, entity_id, tries, provider_id,
                            inserted_at, updated_at, sent_at, enqueued_at)
    SELECT '+380501112233', 'Ваш рецепт: 8888-0000-0000-0000. Код підтвердження: 1234', 'SENT', 'medication_request',
           md5('bench-mr-' || i)::uuid::text, 1, 'log:bench-' || i, t, t, t, t
      FROM generate_series(1, $1::int) i, LATERAL (SELECT now() - make_interval(secs => 400 + i % 80000) AS t) x`,
};

/** `n` compositions of the demo legal entity (a third of them PRELIMINARY), for the sign accept; their ids. */
export async function fillCompositions(db: Db, n: number): Promise<string[]> {
  await db.query(SQL.compositions, [n, DEMO.episodeId, DEMO.doctorEmployeeId, DEMO.legalEntityId, DEMO.clientId]);
  const r = await db.query<{ id: string }>(`SELECT md5('bench-composition-' || i)::uuid::text AS id FROM generate_series(1, $1::int) i`, [
    n,
  ]);
  return r.rows.map((x) => x.id);
}

export interface GrowthData {
  rows: number;
  /** filler MRs spread evenly over the table, for the resend (disjoint from getIds) */
  resendIds: string[];
  /** filler MRs spread evenly over the table, for GET */
  getIds: string[];
}

/** Fills the tables with `rows` rows each; returns `sample` MR ids spread over them (half for the resend, half for GET). */
export async function fillGrowth(db: Db, rows: number, sample: number): Promise<GrowthData> {
  const t0 = performance.now();
  const steps: string[] = [];
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t = performance.now();
    await db.query(sql, params);
    steps.push(`${name} ${((performance.now() - t) / 1000).toFixed(1)} s`);
  };
  await step('medication_requests', SQL.medicationRequests, [DEMO.mrOtpId, rows]);
  await step('compositions', SQL.compositions, [rows, DEMO.episodeId, DEMO.doctorEmployeeId, DEMO.legalEntityId, DEMO.clientId]);
  await step('composition_jobs', SQL.compositionJobs, [rows, DEMO.clientId, DEMO.legalEntityId]);
  await step('sms_attempts', SQL.smsAttempts, [rows]);
  await step('sms_outbox', SQL.smsOutbox, [rows]);
  // a table that has just grown a million rows is not what a service meets: it meets one vacuumed and analysed
  await step('vacuum', 'VACUUM ANALYZE medication_requests, compositions, composition_jobs, sms_attempts, sms_outbox');
  const k = Math.min(sample, rows);
  const ids = (
    await db.query<{ id: string }>(
      `SELECT md5('bench-mr-' || (1 + floor((j + 0.5) * $1::float8 / $2)::int))::uuid::text AS id FROM generate_series(0, $2::int - 1) j ORDER BY j`,
      [rows, k],
    )
  ).rows.map((r) => r.id);
  process.stderr.write(
    `[growth] ${rows} rows in each table filled in ${((performance.now() - t0) / 1000).toFixed(1)} s (${steps.join(', ')})\n`,
  );
  return { rows, resendIds: ids.filter((_, j) => j % 2 === 0), getIds: ids.filter((_, j) => j % 2 === 1) };
}
