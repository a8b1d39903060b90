/**
 * The worker side: one handler for create and sign jobs.
 *
 * Exactly-once effect on at-least-once delivery: the public job row is locked (FOR UPDATE) at the
 * start of the finishing transaction and must still be PENDING; the domain writes and the status
 * change commit together. A redelivered or reclaimed job finds it DONE/FAILED and does nothing, and
 * `compositions.job_id` is UNIQUE besides. Business outcomes (TaskFailure) fail the job at once;
 * anything else is thrown so pg-boss retries with backoff, and the last retry fails the job.
 */
import { randomUUID } from 'node:crypto';
import type { Job } from 'pg-boss';
import type { Platform } from '../platform/platform.ts';
import type { Db } from '../platform/db.ts';
import { CANCEL_TIMEOUT_DAYS, CANCELLATION_REASON_SYSTEMS, TaskFailure, TASK_ERRORS, type JobError, type JobKind } from './model.ts';
import { isAllowedCode } from './dictionaries.ts';
import { buildDocument, compositionPath, firstDifference, generateTitle, sameDocument } from './document.ts';
import { checkCreateRules, checkNoFinalForEncounter } from './rules.ts';
import { markDone, markFailed, recordServiceTime } from './jobs.ts';
import { SignatureError, type SignatureVerifier, type VerifiedSignature } from './signature.ts';
import type { CreateCompositionBody, SignBody } from './schemas.ts';
import type { CompositionMetrics } from './metrics.ts';

interface ClaimedJob {
  id: string;
  kind: JobKind;
  request: unknown;
  client_id: string;
  legal_entity_id: string | null;
  composition_id: string | null;
  attempts: number;
  first_eta: Date | string;
  /** accept → claim, measured by the database clock */
  waited_ms: number;
}

export interface ProcessorDeps {
  platform: Platform;
  verifier: SignatureVerifier;
  metrics: CompositionMetrics;
  retryLimit: number;
}

/**
 * Test-only hook (crash tests; docs/decisions.md (Compositions)): ESOZ_TEST_COMPOSITION_JOB_DELAY_MS holds
 * each job that long, either after the claim (default) or, with ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE=
 * in-transaction, after the composition INSERT and before the commit. Unset in every real deployment.
 */
const testDelay = (phase: 'claimed' | 'in-transaction') => {
  const ms = Number(process.env.ESOZ_TEST_COMPOSITION_JOB_DELAY_MS ?? 0) || 0;
  const want = process.env.ESOZ_TEST_COMPOSITION_JOB_DELAY_PHASE === 'in-transaction' ? 'in-transaction' : 'claimed';
  return ms && want === phase ? new Promise((r) => setTimeout(r, ms)) : undefined;
};

const isUniqueViolation = (err: any, constraint?: string) =>
  err?.code === '23505' && (!constraint || String(err?.constraint ?? err?.message ?? '').includes(constraint));

export class Processor {
  constructor(private readonly deps: ProcessorDeps) {}

  async handle(job: Job<{ jobId: string }>): Promise<unknown> {
    const { db } = this.deps.platform;
    const claimed = await db.query<ClaimedJob>(
      `UPDATE composition_jobs SET started_at = clock_timestamp(), attempts = attempts + 1
        WHERE id = $1 AND status = 'PENDING'
        RETURNING id, kind, request, client_id, legal_entity_id, composition_id, attempts, first_eta,
                  EXTRACT(EPOCH FROM (clock_timestamp() - inserted_at))::float8 * 1000 AS waited_ms`,
      [job.data.jobId],
    );
    const row = claimed.rows[0];
    if (!row) return { skipped: true }; // finished already (redelivery) or deleted
    if (typeof row.request === 'string') row.request = JSON.parse(row.request);
    const started = performance.now();
    await testDelay('claimed');
    try {
      const outcome = row.kind === 'CREATE' ? await this.create(row) : row.kind === 'SIGN' ? await this.sign(row) : await this.cancel(row);
      this.finished(row, 'DONE', outcome?.on_time, started);
      return { status: 'DONE' };
    } catch (err) {
      const failure = this.asFailure(err);
      if (failure) {
        const r = await markFailed(db, row.id, failure.toJSON());
        this.finished(row, 'FAILED', r?.on_time, started);
        return { status: 'FAILED', error: failure.type };
      }
      if (job.retryCount >= this.deps.retryLimit) {
        const error: JobError = {
          code: TASK_ERRORS.INTERNAL_ERROR,
          type: 'INTERNAL_ERROR',
          message: `The job failed after ${job.retryCount + 1} attempts; send the request again`,
        };
        this.deps.platform.log.error({ err, jobId: row.id }, 'composition job failed for good');
        const r = await markFailed(db, row.id, error);
        this.finished(row, 'FAILED', r?.on_time, started);
        return { status: 'FAILED', error: 'INTERNAL_ERROR' };
      }
      this.deps.platform.log.warn({ err, jobId: row.id, retry: job.retryCount }, 'composition job failed, will retry');
      throw err;
    }
  }

  private asFailure(err: unknown): TaskFailure | null {
    if (err instanceof TaskFailure) return err;
    if (err instanceof SignatureError) {
      const type = err.reason === 'signature' ? 'INVALID_SIGNATURE' : err.reason === 'certificate' ? 'UNTRUSTED_SIGNER_CERTIFICATE' : 'INVALID_SIGNED_DATA';
      return new TaskFailure(type, err.message);
    }
    if (isUniqueViolation(err, 'compositions_final_per_encounter_idx')) {
      return new TaskFailure('FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS', 'A FINAL composition of this type and category already exists for the encounter');
    }
    return null;
  }

  private finished(row: ClaimedJob, status: 'DONE' | 'FAILED', onTime: boolean | undefined, started: number) {
    const ms = performance.now() - started;
    this.deps.metrics.observe(row.kind, status, ms / 1000, onTime);
    recordServiceTime(this.deps.platform.db, row.kind, ms, Number(row.waited_ms) + ms).catch((err) => this.deps.platform.log.warn({ err }, 'job stats not recorded'));
  }

  /** Lock the public job; false when another attempt finished it meanwhile. */
  private async lockPending(tx: Db, jobId: string): Promise<boolean> {
    const r = await tx.query<{ status: string }>('SELECT status FROM composition_jobs WHERE id = $1 FOR UPDATE', [jobId]);
    return r.rows[0]?.status === 'PENDING';
  }

  private async create(row: ClaimedJob) {
    const body = row.request as CreateCompositionBody;
    return this.deps.platform.db.transaction(async (tx) => {
      if (!(await this.lockPending(tx, row.id))) return undefined;
      await checkCreateRules(tx, body);
      const enc = await tx.query<{ episode_id: string | null }>('SELECT episode_id FROM encounters WHERE id = $1', [body.encounter.value]);
      const id = randomUUID();
      const custodianId = row.legal_entity_id!;
      for (let attempt = 0; ; attempt++) {
        const title = generateTitle();
        const doc = buildDocument({
          id, title, date: new Date().toISOString(), custodianId, episodeId: enc.rows[0]?.episode_id ?? null, body,
        });
        const ins = await tx.query(
          `INSERT INTO compositions (id, job_id, status, type_code, category_code, title, subject_type, subject_id, focus_type, focus_id,
                                     encounter_id, episode_id, author_id, custodian_id, client_id, document)
           VALUES ($1, $2, 'PRELIMINARY', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (title) DO NOTHING RETURNING id`,
          [id, row.id, body.type.coding[0].code, body.category.coding[0].code, title, body.subject.type.coding[0].code, body.subject.value,
            body.section.focus.type.coding[0].code, body.section.focus.value, body.encounter.value, enc.rows[0]?.episode_id ?? null,
            body.author.value, custodianId, row.client_id, JSON.stringify(doc)],
        );
        if (ins.rowCount) break;
        if (attempt > 10) throw new Error('could not generate a unique composition title');
      }
      await testDelay('in-transaction');
      const href = compositionPath({ subjectId: body.subject.value, encounterId: body.encounter.value, id });
      return markDone(tx, row.id, id, [{ entity: 'composition', href }]);
    });
  }

  /** Verify the CMS and parse its content (CPU work outside any transaction: PGlite serialises them). */
  private async verified(data: string): Promise<{ signed: VerifiedSignature; content: unknown }> {
    const signed = await this.deps.verifier.verify(data);
    try {
      return { signed, content: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.content)) };
    } catch {
      throw new TaskFailure('INVALID_SIGNED_DATA', 'The signed content is not valid UTF-8 JSON');
    }
  }

  private async cancel(row: ClaimedJob) {
    const body = row.request as SignBody;
    const compositionId = row.composition_id!;
    const { signed, content } = await this.verified(body.data);
    const c = content as { id?: unknown; reason?: { coding?: { system?: unknown; code?: unknown }[]; text?: unknown } };
    const coding = c?.reason?.coding?.[0];
    const shapeOk = c && typeof c === 'object' && typeof c.id === 'string' && Array.isArray(c.reason?.coding) && c.reason!.coding!.length === 1
      && typeof coding?.system === 'string' && typeof coding?.code === 'string'
      && (c.reason!.text === undefined || (typeof c.reason!.text === 'string' && c.reason!.text.length <= 2000))
      && Object.keys(c).every((k) => k === 'id' || k === 'reason');
    if (!shapeOk) {
      throw new TaskFailure('INVALID_SIGNED_DATA', 'The signed content must be {"id": <composition id>, "reason": {"coding": [{"system", "code"}], "text": <≤ 2000 chars>}}');
    }
    if (String(c.id).toLowerCase() !== compositionId) {
      throw new TaskFailure('INVALID_SIGNED_DATA', `The signed content cancels composition ${String(c.id)}, not ${compositionId}`);
    }
    const { system, code } = coding as { system: string; code: string };
    const reasonOk = async (type: string) => system === CANCELLATION_REASON_SYSTEMS[type] && (await isAllowedCode(this.deps.platform.db, system, code));
    // dictionary lookups before the transaction (they may query, and PGlite serialises transactions)
    const reasonByType: Record<string, boolean> = {};
    for (const type of Object.keys(CANCELLATION_REASON_SYSTEMS)) reasonByType[type] = await reasonOk(type);
    return this.deps.platform.db.transaction(async (tx) => {
      if (!(await this.lockPending(tx, row.id))) return undefined;
      const r = await tx.query<{
        status: string; document: string; custodian_id: string; encounter_id: string; subject_id: string; type_code: string;
        signed_at: Date | string | null;
      }>(
        'SELECT status, document, custodian_id, encounter_id, subject_id, type_code, signed_at FROM compositions WHERE id = $1 FOR UPDATE',
        [compositionId],
      );
      const comp = r.rows[0];
      if (!comp || comp.custodian_id !== row.legal_entity_id) throw new TaskFailure('COMPOSITION_NOT_FOUND', 'The object of the Composition was not found');
      if (comp.status !== 'FINAL') {
        throw new TaskFailure('INVALID_COMPOSITION_STATUS', `Composition is ${comp.status}: only a FINAL composition can be cancelled`);
      }
      if (!reasonByType[comp.type_code]) throw new TaskFailure('INVALID_CANCELLATION_CODING', 'Invalid cancellation coding');
      const days = CANCEL_TIMEOUT_DAYS[comp.type_code];
      if (days && comp.signed_at && Date.now() - new Date(comp.signed_at).getTime() > days * 86400_000) {
        throw new TaskFailure('CANCEL_PERIOD_EXPIRED', `A ${comp.type_code} composition can be cancelled within ${days} days of signing`);
      }
      if (!signed.taxId) {
        throw new TaskFailure('SIGNER_MISMATCH', 'The signer certificate carries no tax id (subject serialNumber TINUA-… or DRFO attribute)');
      }
      const signer = await tx.query(
        `SELECT 1 FROM employees e JOIN parties p ON p.id = e.party_id
          WHERE e.legal_entity_id = $1 AND e.is_active AND e.status = 'APPROVED' AND upper(p.tax_id) = upper($2) LIMIT 1`,
        [comp.custodian_id, signed.taxId],
      );
      if (!signer.rowCount) throw new TaskFailure('SIGNER_MISMATCH', 'The signer is not an employee of the legal entity that issued the composition');
      const doc = { ...JSON.parse(comp.document), status: 'ENTERED_IN_ERROR' };
      await tx.query(
        `UPDATE compositions SET status = 'ENTERED_IN_ERROR', document = $2, cancel_job_id = $3, cancelled_at = now(),
                                 cancel_reason = $4, cancel_signed_content = $5, updated_at = now()
          WHERE id = $1`,
        [compositionId, JSON.stringify(doc), row.id, JSON.stringify(c.reason), body.data],
      );
      const href = compositionPath({ subjectId: comp.subject_id, encounterId: comp.encounter_id, id: compositionId });
      return markDone(tx, row.id, compositionId, [{ entity: 'composition', href }]);
    });
  }

  private async sign(row: ClaimedJob) {
    const body = row.request as SignBody;
    const compositionId = row.composition_id!;
    const { signed, content } = await this.verified(body.data);
    return this.deps.platform.db.transaction(async (tx) => {
      if (!(await this.lockPending(tx, row.id))) return undefined;
      const c = await tx.query<{
        status: string; document: string; author_id: string; custodian_id: string; encounter_id: string; subject_id: string;
        type_code: string; category_code: string;
      }>(
        `SELECT status, document, author_id, custodian_id, encounter_id, subject_id, type_code, category_code
           FROM compositions WHERE id = $1 FOR UPDATE`,
        [compositionId],
      );
      const comp = c.rows[0];
      if (!comp || comp.custodian_id !== row.legal_entity_id) throw new TaskFailure('COMPOSITION_NOT_FOUND', 'Composition not found');
      if (comp.status !== 'PRELIMINARY') {
        throw new TaskFailure('INVALID_COMPOSITION_STATUS', `Composition is ${comp.status}: only a PRELIMINARY composition can be signed`);
      }
      const stored = JSON.parse(comp.document);
      if (!sameDocument(content, stored)) {
        throw new TaskFailure(
          'SIGNED_CONTENT_MISMATCH',
          `The signed content does not match the composition (first difference at ${firstDifference(content, stored)}); sign the document exactly as getComposition returns it`,
        );
      }
      const author = await tx.query<{ tax_id: string | null }>(
        'SELECT p.tax_id FROM employees e JOIN parties p ON p.id = e.party_id WHERE e.id = $1',
        [comp.author_id],
      );
      const authorTaxId = author.rows[0]?.tax_id?.trim() || null;
      if (!signed.taxId) {
        throw new TaskFailure('SIGNER_MISMATCH', 'The signer certificate carries no tax id (subject serialNumber TINUA-… or DRFO attribute)');
      }
      if (!authorTaxId || signed.taxId.toUpperCase() !== authorTaxId.toUpperCase()) {
        throw new TaskFailure('SIGNER_MISMATCH', 'The signer is not the author of the composition (certificate tax id differs from the author\'s)');
      }
      await checkNoFinalForEncounter(tx, comp.encounter_id, comp.type_code, comp.category_code, compositionId);
      const finalDoc = { ...stored, status: 'FINAL' };
      await tx.query(
        `UPDATE compositions SET status = 'FINAL', document = $2, signed_content = $3, signed_at = now(), sign_job_id = $4,
                                 signer_tax_id = $5, updated_at = now()
          WHERE id = $1`,
        [compositionId, JSON.stringify(finalDoc), body.data, row.id, signed.taxId],
      );
      const href = compositionPath({ subjectId: comp.subject_id, encounterId: comp.encounter_id, id: compositionId });
      return markDone(tx, row.id, compositionId, [{ entity: 'composition', href }]);
    });
  }
}
