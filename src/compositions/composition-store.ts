/**
 * The compositions table and what the composition rules read from the registry: every SQL statement
 * of the aggregate lives here, so the method modules (create.ts, sign.ts, cancel.ts, read.ts) read as
 * rules. Functions that take `tx` run inside the caller's transaction (the row locks are the caller's).
 */
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { jsonFunctionBatcher } from '../platform/batch.ts';
import { UUID_RE } from '../platform/uuid.ts';
import { compositionPath } from './document.ts';

/** The columns a GET checks the path against, and the document it answers with. */
export interface CompositionForRead {
  id: string;
  status: string;
  type_code: string;
  focus_type: string | null;
  document: string;
  custodian_id: string;
  subject_id: string;
  focus_id: string | null;
  encounter_id: string;
  episode_id: string | null;
}

/** One composition by id, or undefined (an id that is not a UUID matches nothing). */
export async function findForRead(db: Db, id: string): Promise<CompositionForRead | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const r = await db.query<CompositionForRead>(
    'SELECT id, status, type_code, focus_type, document, custodian_id, subject_id, focus_id, encounter_id, episode_id FROM compositions WHERE id = $1',
    [id],
  );
  return r.rows[0];
}

/** The custodian of a composition (who may sign or cancel it), or null when there is no such composition. */
export async function custodianOf(db: Db, id: string): Promise<string | null> {
  if (!UUID_RE.test(id)) return null;
  const r = await db.query<{ custodian_id: string }>('SELECT custodian_id FROM compositions WHERE id = $1', [id]);
  return r.rows[0]?.custodian_id ?? null;
}

/** searchComposition's filters, already validated (read.ts); `patientId` matches subject or focus. */
export interface SearchFilter {
  custodianId: string | null;
  patientId?: string;
  subject?: string;
  focus?: string;
  type?: string;
  encounter?: string;
  episodeOfCare?: string;
  /** the links of a chain that name this composition */
  relatesTo?: string;
  status?: string;
}

/** A page of documents, newest first, and the total the paging reports. */
export async function searchDocuments(
  db: Db,
  f: SearchFilter,
  offset: number,
  limit: number,
): Promise<{ documents: string[]; total: number }> {
  const where: string[] = ['custodian_id = $1'];
  const params: unknown[] = [f.custodianId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.patientId !== undefined) {
    params.push(f.patientId);
    where.push(`(subject_id = $${params.length} OR focus_id = $${params.length})`);
  }
  if (f.subject) add('subject_id = ?', f.subject);
  if (f.focus) add('focus_id = ?', f.focus);
  if (f.type) add('type_code = ?', f.type);
  if (f.encounter) add('encounter_id = ?', f.encounter);
  if (f.episodeOfCare) add('episode_id = ?', f.episodeOfCare);
  if (f.relatesTo) add('relates_to_id = ?', f.relatesTo);
  if (f.status) add('status = ?', f.status);
  const sqlWhere = where.join(' AND ');
  const r = await db.query<{ document: string; total: number }>(
    `SELECT document, count(*) OVER () AS total FROM compositions WHERE ${sqlWhere}
      ORDER BY inserted_at DESC, id LIMIT ${limit} OFFSET ${offset}`,
    params,
  );
  let total = r.rows[0] ? Number(r.rows[0].total) : 0;
  if (!r.rows[0] && offset > 0) {
    // past the last page the window count has no row to ride on
    const c = await db.query<{ n: number }>(`SELECT count(*) AS n FROM compositions WHERE ${sqlWhere}`, params);
    total = Number(c.rows[0]?.n ?? 0);
  }
  return { documents: r.rows.map((x) => x.document), total };
}

// ---- what create's synchronous checks read (one statement shared by concurrent creates) ----

/** What a reference points to (esoz_composition_refs_many). */
export interface RefFacts {
  subject: { is_active: boolean; status: string } | null;
  focus: { is_active: boolean; status: string } | null;
  encounter: { person_id: string; episode_id: string | null } | null;
  author: { legal_entity_id: string; is_active: boolean; status: string } | null;
  relates_to_exists: boolean;
}

export interface RefItem {
  subject_type: string | null;
  subject_id: string | null;
  focus_type: string | null;
  focus_id: string | null;
  encounter_id: string | null;
  author_id: string | null;
  relates_to_id: string | null;
}

/** The references of concurrent creates are read by one statement (src/platform/batch.ts). */
export function readRefs(db: Db, item: RefItem): Promise<RefFacts> {
  return jsonFunctionBatcher<RefItem, RefFacts>(db, 'esoz_composition_refs_many').run(item);
}

/** INFORM_WITH: an active, unended authentication method of one of `personIds`. */
export async function authMethodOfPeople(db: Db, methodId: string | null, personIds: (string | null)[]): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM person_authentication_methods
      WHERE id = $1 AND person_id = ANY($2::uuid[]) AND is_active AND (ended_at IS NULL OR ended_at > now())`,
    [methodId, personIds],
  );
  return r.rowCount !== 0;
}

// ---- what create's asynchronous rules read (one statement per batch of jobs) ----

/** What the create rules read from the database, for one job (esoz_composition_create_facts_many). */
export interface CreateFacts {
  /** the encounter's episode (for the document's episodeOfCare) */
  episode_id: string | null;
  /** 1127: a FINAL composition of this type and category exists on the encounter */
  final_exists: boolean;
  /** NEWBORN only: a NEWBORN composition (not cancelled) exists for the subject */
  newborn_exists: boolean | null;
  /** relatesTo only: the related composition, or null when it does not exist */
  relates_to: RelatedFacts | null;
}

/** The composition a create's relatesTo names, as the chain rules read it. */
export interface RelatedFacts {
  status: string;
  type_code: string;
  category_code: string;
  subject_type: string;
  subject_id: string;
  /** the person on leave */
  focus_type: string;
  focus_id: string;
  /** its document's events (the validity period) */
  event: { code?: { coding?: { code?: string }[] }; period?: { start?: string; end?: string | null } }[] | null;
  cancelled_at: string | null;
  cancel_reason_code: string | null;
  /** a FINAL or AMENDED composition links to it: it is not the last link of its chain */
  successor_exists: boolean;
  /** ERLN accepted its CREATE_ERLN_RECORD (it has an SL number) */
  erln_registered: boolean;
}

export interface CreateFactsItem {
  encounter_id: string;
  type: string;
  category: string;
  subject_id: string;
  relates_to_id: string | null;
}

export async function readCreateFacts(db: Db, items: CreateFactsItem[]): Promise<CreateFacts[]> {
  const { rows } = await db.query<{ r: CreateFacts[] | string }>('SELECT esoz_composition_create_facts_many($1::json) AS r', [
    JSON.stringify(items),
  ]);
  return jsonValue(rows[0].r);
}

// ---- sign and cancel: inside the job's finishing transaction ----

/** The composition a sign job works on, locked for the rest of the transaction. */
export interface CompositionToSign {
  status: string;
  document: string;
  author_id: string;
  custodian_id: string;
  encounter_id: string;
  subject_id: string;
  type_code: string;
  category_code: string;
  focus_type: string | null;
  /** a chain link: the composition it links to, how (lower-cased relatesTo.code) and the flow create chose */
  relates_to_id: string | null;
  relates_to_code: string | null;
  chain_flow: string | null;
}

export async function lockForSign(tx: Db, id: string): Promise<CompositionToSign | undefined> {
  const c = await tx.query<CompositionToSign>(
    `SELECT status, document, author_id, custodian_id, encounter_id, subject_id, type_code, category_code, focus_type,
            relates_to_id, relates_to_code, chain_flow
       FROM compositions WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return c.rows[0];
}

/** The target of a chain link, locked (sign re-checks it and amends it); undefined when it is gone. */
export interface ChainTarget {
  status: string;
  amended_from_status: string | null;
  /** a FINAL or AMENDED composition links to it */
  successor_exists: boolean;
}

export async function lockChainTarget(tx: Db, id: string): Promise<ChainTarget | undefined> {
  const r = await tx.query<{ status: string; amended_from_status: string | null }>(
    'SELECT status, amended_from_status FROM compositions WHERE id = $1 FOR UPDATE',
    [id],
  );
  const t = r.rows[0];
  if (!t) return undefined;
  const s = await tx.query(`SELECT 1 FROM compositions WHERE relates_to_id = $1 AND status IN ('FINAL', 'AMENDED') LIMIT 1`, [id]);
  return { ...t, successor_exists: s.rowCount !== 0 };
}

/** A signed link amends its target: AMENDED, the status it had kept to give back on the link's cancel. */
export async function markAmended(tx: Db, id: string, fromStatus: string): Promise<void> {
  await setChainStatus(tx, id, 'AMENDED', fromStatus);
}

/** Rewrites the status of a composition and of its document (only that field: the signed content stays as signed). */
async function setChainStatus(tx: Db, id: string, status: string, amendedFrom: string | null): Promise<void> {
  const r = await tx.query<{ document: string }>('SELECT document FROM compositions WHERE id = $1', [id]);
  const doc = { ...(JSON.parse(r.rows[0]?.document ?? '{}') as Record<string, unknown>), status };
  await tx.query(`UPDATE compositions SET status = $2, amended_from_status = $3, document = $4, updated_at = now() WHERE id = $1`, [
    id,
    status,
    amendedFrom,
    JSON.stringify(doc),
  ]);
}

/** The composition a cancel job works on, locked for the rest of the transaction. */
export interface CompositionToCancel {
  status: string;
  document: string;
  custodian_id: string;
  encounter_id: string;
  subject_id: string;
  focus_id: string | null;
  focus_type: string | null;
  type_code: string;
  signed_at: Date | string | null;
}

export async function lockForCancel(tx: Db, id: string): Promise<CompositionToCancel | undefined> {
  const r = await tx.query<CompositionToCancel>(
    `SELECT status, document, custodian_id, encounter_id, subject_id, focus_id, focus_type, type_code, signed_at
       FROM compositions WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return r.rows[0];
}

/** The tax id of an employee's party (trimmed; null when there is none). */
export async function employeeTaxId(tx: Db, employeeId: string): Promise<string | null> {
  const author = await tx.query<{ tax_id: string | null }>(
    'SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1',
    [employeeId],
  );
  return author.rows[0]?.tax_id?.trim() || null;
}

/** An active, approved employee of the legal entity whose party has this tax id (case-insensitive). */
export async function hasEmployeeWithTaxId(tx: Db, legalEntityId: string, taxId: string): Promise<boolean> {
  const signer = await tx.query(
    `SELECT 1 FROM employees e JOIN parties p ON p.id = e.party_id
      WHERE e.legal_entity_id = $1 AND e.is_active AND e.status = 'APPROVED' AND upper(p.tax_id) = upper($2) LIMIT 1`,
    [legalEntityId, taxId],
  );
  return signer.rowCount !== 0;
}

/** 1127: another FINAL composition of the same type and category on the encounter. */
export async function finalExistsOnEncounter(tx: Db, encounterId: string, type: string, category: string, exceptId?: string) {
  const r = await tx.query(
    `SELECT 1 FROM compositions WHERE encounter_id = $1 AND type_code = $2 AND category_code = $3 AND status = 'FINAL'
        AND ($4::uuid IS NULL OR id <> $4) LIMIT 1`,
    [encounterId, type, category, exceptId ?? null],
  );
  return r.rowCount !== 0;
}

export async function markSigned(
  tx: Db,
  c: { id: string; document: unknown; signedContent: string; jobId: string; signerTaxId: string },
): Promise<void> {
  await tx.query(
    `UPDATE compositions SET status = 'FINAL', document = $2, signed_content = $3, signed_at = now(), sign_job_id = $4,
                             signer_tax_id = $5, updated_at = now()
      WHERE id = $1`,
    [c.id, JSON.stringify(c.document), c.signedContent, c.jobId, c.signerTaxId],
  );
}

export async function markCancelled(
  tx: Db,
  c: { id: string; document: unknown; jobId: string; reason: unknown; signedContent: string },
): Promise<void> {
  await tx.query(
    `UPDATE compositions SET status = 'ENTERED_IN_ERROR', document = $2, cancel_job_id = $3, cancelled_at = now(),
                             cancel_reason = $4, cancel_signed_content = $5, updated_at = now()
      WHERE id = $1`,
    [c.id, JSON.stringify(c.document), c.jobId, JSON.stringify(c.reason), c.signedContent],
  );
}

// ---- the compositions fixture kind (fixtures.ts) ----

/** A composition row as the fixture kind writes it: every column create writes, plus what sign writes. */
export interface CompositionRow {
  id: string;
  job_id: string;
  status: string;
  type_code: string;
  category_code: string;
  title: string;
  subject_type: string;
  subject_id: string;
  focus_type: string | null;
  focus_id: string | null;
  encounter_id: string;
  episode_id: string | null;
  author_id: string;
  custodian_id: string;
  client_id: string;
  document: string;
  signed_at: string | null;
  /** the cancellation reason (JSON {coding, text}) and time of an ENTERED_IN_ERROR one */
  cancel_reason: string | null;
  cancelled_at: string | null;
}

/** The stored title and job of a composition (a fixture update keeps them), or undefined. */
export async function identityOf(tx: Db, id: string): Promise<{ title: string; job_id: string; client_id: string } | undefined> {
  const r = await tx.query<{ title: string; job_id: string; client_id: string }>(
    'SELECT title, job_id, client_id FROM compositions WHERE id = $1',
    [id],
  );
  return r.rows[0];
}

/** What the fixture kind derives from the registry: the encounter's episode and whether the subject is a preperson. */
export async function fixtureFacts(
  tx: Db,
  encounterId: string,
  subjectId: string,
): Promise<{ episode_id: string | null; preperson: boolean }> {
  const r = await tx.query<{ episode_id: string | null; preperson: boolean }>(
    `SELECT (SELECT episode_id FROM encounters WHERE id = $1) AS episode_id,
            EXISTS (SELECT 1 FROM prepersons WHERE id = $2) AS preperson`,
    [encounterId, subjectId],
  );
  return r.rows[0];
}

/** Inserts or replaces a composition (title UNIQUE: a clash surfaces as the fixture item's 422). */
export async function upsertComposition(tx: Db, c: CompositionRow): Promise<void> {
  await tx.query(
    `INSERT INTO compositions (id, job_id, status, type_code, category_code, title, subject_type, subject_id, focus_type, focus_id,
                              encounter_id, episode_id, author_id, custodian_id, client_id, document, signed_at, cancel_reason, cancelled_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, type_code = EXCLUDED.type_code, category_code = EXCLUDED.category_code,
       subject_type = EXCLUDED.subject_type, subject_id = EXCLUDED.subject_id, focus_type = EXCLUDED.focus_type,
       focus_id = EXCLUDED.focus_id, encounter_id = EXCLUDED.encounter_id, episode_id = EXCLUDED.episode_id,
       author_id = EXCLUDED.author_id, custodian_id = EXCLUDED.custodian_id, document = EXCLUDED.document,
       signed_at = EXCLUDED.signed_at, cancel_reason = EXCLUDED.cancel_reason, cancelled_at = EXCLUDED.cancelled_at,
       amended_from_status = NULL, updated_at = now()`,
    [
      c.id,
      c.job_id,
      c.status,
      c.type_code,
      c.category_code,
      c.title,
      c.subject_type,
      c.subject_id,
      c.focus_type,
      c.focus_id,
      c.encounter_id,
      c.episode_id,
      c.author_id,
      c.custodian_id,
      c.client_id,
      c.document,
      c.signed_at,
      c.cancel_reason,
      c.cancelled_at,
    ],
  );
}

/** What RC_4 checks of a composition, locked for the rest of the caller's transaction. */
export interface CompositionForErln {
  status: string;
  type_code: string;
  focus_type: string | null;
  custodian_id: string;
}

export async function lockForErlnResend(tx: Db, id: string): Promise<CompositionForErln | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const r = await tx.query<CompositionForErln>(
    'SELECT status, type_code, focus_type, custodian_id FROM compositions WHERE id = $1 FOR UPDATE',
    [id],
  );
  return r.rows[0];
}

/** The composition's path (the job link of a finished job). */
export async function pathOfComposition(db: Db, id: string): Promise<string | undefined> {
  const r = await db.query<{ subject_id: string; encounter_id: string }>(
    'SELECT subject_id, encounter_id FROM compositions WHERE id = $1',
    [id],
  );
  const c = r.rows[0];
  return c && compositionPath({ subjectId: c.subject_id, encounterId: c.encounter_id, id });
}

/** The target of a cancelled chain link, locked (its status goes back to the one it had before it was amended). */
export interface ReplacedTarget {
  status: string;
  amended_from_status: string | null;
  encounter_id: string;
  type_code: string;
  category_code: string;
}

export async function lockReplaced(tx: Db, id: string): Promise<ReplacedTarget | undefined> {
  if (!UUID_RE.test(id)) return undefined;
  const r = await tx.query<ReplacedTarget>(
    'SELECT status, amended_from_status, encounter_id, type_code, category_code FROM compositions WHERE id = $1 FOR UPDATE',
    [id],
  );
  return r.rows[0];
}

/** AMENDED → `status` (FINAL, or ENTERED_IN_ERROR for a replaced one). */
export async function markUnamended(tx: Db, id: string, status: string): Promise<void> {
  await setChainStatus(tx, id, status, null);
}

/**
 * The phone an SMS about a composition goes to: INFORM_WITH names an active, unended authentication
 * method of one of `personIds`; OTP → its phone, THIRD_PERSON → the confidant's active OTP phone.
 * null when there is none.
 */
export async function smsPhoneOfAuthMethod(db: Db, methodId: string, personIds: (string | null)[]): Promise<string | null> {
  if (!UUID_RE.test(methodId)) return null;
  const r = await db.query<{ phone: string | null }>(
    `SELECT CASE m.type
              WHEN 'OTP' THEN m.phone_number
              WHEN 'THIRD_PERSON' THEN (
                SELECT c.phone_number FROM person_authentication_methods c
                 WHERE c.person_id = m.value AND c.type = 'OTP' AND c.is_active AND (c.ended_at IS NULL OR c.ended_at > now())
                 ORDER BY c.inserted_at DESC LIMIT 1)
            END AS phone
       FROM person_authentication_methods m
      WHERE m.id = $1 AND m.person_id = ANY($2::uuid[]) AND m.is_active AND (m.ended_at IS NULL OR m.ended_at > now())`,
    [methodId, personIds.filter((x): x is string => !!x)],
  );
  return r.rows[0]?.phone ?? null;
}
