/**
 * The worker side: one handler for the jobs a worker fetched together (create, sign, cancel).
 *
 * Exactly-once effect on at-least-once delivery: the public job row is locked (FOR UPDATE) at the
 * start of the finishing transaction and must still be PENDING; the domain writes and the status
 * change commit together. A redelivered or reclaimed job finds it DONE/FAILED and does nothing, and
 * `compositions.job_id` is UNIQUE besides. Business outcomes (TaskFailure) fail the job at once;
 * anything else is thrown so pg-boss retries with backoff, and the last retry fails the job.
 *
 * Create jobs of one fetch are processed together, with statements shared by the batch: one claim,
 * one read of the facts the rules need, the rules per job in JS, one finishing transaction (each job in
 * its own subtransaction: esoz_composition_jobs_finish), one update of the ETA statistics. Sign and
 * cancel jobs (CMS verification per job) run one by one, as before.
 */
import { randomUUID } from 'node:crypto';
import type { Job } from 'pg-boss';
import type { Platform } from '../platform/platform.ts';
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { CANCEL_TIMEOUT_DAYS, CANCELLATION_REASON_SYSTEMS, TaskFailure, TASK_ERRORS, type JobError, type JobKind } from './model.ts';
import { isAllowedCode } from './dictionaries.ts';
import { buildDocument, compositionPath, firstDifference, generateTitle, sameDocument } from './document.ts';
import { checkCreateRules, checkNoFinalForEncounter, type CreateFacts } from './rules.ts';
import { markDone, markFailed, foldServiceTimes } from './jobs.ts';
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

type Outcome = { status: 'DONE' | 'FAILED'; onTime?: boolean } | undefined;
type Finished = (row: ClaimedJob, status: 'DONE' | 'FAILED', onTime: boolean | undefined, since: number) => void;
type Fetched = { job: Job<{ jobId: string }>; row: ClaimedJob; k: number };

export class Processor {
  constructor(private readonly deps: ProcessorDeps) {}

  /** The jobs of one fetch: each gets its own result, or an Error (pg-boss retries that job). */
  async handleBatch(jobs: Job<{ jobId: string }>[]): Promise<(unknown | Error)[]> {
    const results: (unknown | Error)[] = jobs.map(() => ({ skipped: true }));
    let claimed: ClaimedJob[];
    try {
      claimed = await this.claim(jobs.map((j) => j.data.jobId));
    } catch (err) {
      return jobs.map(() => err as Error);
    }
    const byId = new Map(claimed.map((r) => [r.id, r]));
    await testDelay('claimed');
    const started = performance.now();
    const creates: Fetched[] = [];
    const others: Promise<void>[] = [];
    const samples: { kind: JobKind; serviceMs: number; turnMs: number }[] = [];
    const finished: Finished = (row, status, onTime, since) => {
      const ms = performance.now() - since;
      this.deps.metrics.observe(row.kind, status, ms / 1000, onTime);
      samples.push({ kind: row.kind, serviceMs: ms, turnMs: Number(row.waited_ms) + ms });
    };
    jobs.forEach((job, k) => {
      const row = byId.get(job.data.jobId);
      if (!row) return; // finished already (redelivery) or deleted
      if (row.kind === 'CREATE') {
        creates.push({ job, row, k });
        return;
      }
      others.push(
        (async () => {
          const since = performance.now();
          results[k] = await this.settle({ job, row, k }, since, finished, async () => {
            const r = row.kind === 'SIGN' ? await this.sign(row) : await this.cancel(row);
            return r && { status: 'DONE', onTime: r.on_time };
          }).catch((err) => err as Error);
        })(),
      );
    });
    await Promise.all([this.createBatch(creates, results, started, finished), ...others]);
    await foldServiceTimes(this.deps.platform.db, samples).catch((err) => this.deps.platform.log.warn({ err }, 'job stats not recorded'));
    return results;
  }

  /** Claim the PENDING ones of `ids` (started_at, one more attempt); the others are finished or gone. */
  private async claim(ids: string[]): Promise<ClaimedJob[]> {
    const { rows } = await this.deps.platform.db.query<{ r: ClaimedJob[] | string }>(
      'SELECT esoz_composition_jobs_claim($1::uuid[]) AS r',
      [ids],
    );
    const claimed = jsonValue<ClaimedJob[]>(rows[0].r);
    for (const row of claimed) row.request = jsonValue(row.request);
    return claimed;
  }

  /** One sign or cancel job: DONE, a business failure (FAILED at once), or an error (see onError). */
  private async settle(f: Fetched, since: number, finished: Finished, run: () => Promise<Outcome>): Promise<unknown> {
    try {
      const outcome = await run();
      if (!outcome) return { skipped: true };
      finished(f.row, outcome.status, outcome.onTime, since);
      return { status: outcome.status };
    } catch (err) {
      const failure = this.asFailure(err);
      if (!failure) return this.onError(f, err, since, finished);
      const r = await markFailed(this.deps.platform.db, f.row.id, failure.toJSON());
      finished(f.row, 'FAILED', r?.on_time, since);
      return { status: 'FAILED', error: failure.type };
    }
  }

  /** A transient error: thrown so pg-boss retries with backoff; the last retry fails the job with INTERNAL_ERROR instead. */
  private async onError(f: Fetched, err: unknown, since: number, finished: Finished): Promise<unknown> {
    if (f.job.retryCount >= this.deps.retryLimit) {
      const error: JobError = {
        code: TASK_ERRORS.INTERNAL_ERROR,
        type: 'INTERNAL_ERROR',
        message: `The job failed after ${f.job.retryCount + 1} attempts; send the request again`,
      };
      this.deps.platform.log.error({ err, jobId: f.row.id }, 'composition job failed for good');
      const r = await markFailed(this.deps.platform.db, f.row.id, error);
      finished(f.row, 'FAILED', r?.on_time, since);
      return { status: 'FAILED', error: 'INTERNAL_ERROR' };
    }
    this.deps.platform.log.warn({ err, jobId: f.row.id, retry: f.job.retryCount }, 'composition job failed, will retry');
    throw err;
  }

  private asFailure(err: unknown): TaskFailure | null {
    if (err instanceof TaskFailure) return err;
    if (err instanceof SignatureError) {
      const type =
        err.reason === 'signature'
          ? 'INVALID_SIGNATURE'
          : err.reason === 'certificate'
            ? 'UNTRUSTED_SIGNER_CERTIFICATE'
            : 'INVALID_SIGNED_DATA';
      return new TaskFailure(type, err.message);
    }
    if (isUniqueViolation(err, 'compositions_final_per_encounter_idx')) {
      return new TaskFailure(
        'FINAL_COMPOSITION_FOR_ENCOUNTER_ALREADY_EXISTS',
        'A FINAL composition of this type and category already exists for the encounter',
      );
    }
    return null;
  }

  /** Lock the public job; false when another attempt finished it meanwhile. */
  private async lockPending(tx: Db, jobId: string): Promise<boolean> {
    const r = await tx.query<{ status: string }>('SELECT status FROM composition_jobs WHERE id = $1 FOR UPDATE', [jobId]);
    return r.rows[0]?.status === 'PENDING';
  }

  /**
   * The create jobs of one fetch: the facts every job's rules need in one statement, the rules per
   * job (rules.ts, in their documented order), then one finishing transaction for all of them
   * (esoz_composition_jobs_finish: per job, under its row lock and only while PENDING, the composition
   * and DONE, or FAILED). A generated title that already exists sends its job round again with a new one.
   */
  private async createBatch(creates: Fetched[], results: (unknown | Error)[], started: number, finished: Finished) {
    if (!creates.length) return;
    const { db } = this.deps.platform;
    const fail = async (f: Fetched, err: unknown) => {
      results[f.k] = await this.onError(f, err, started, finished).catch((e) => e as Error);
    };
    let facts: CreateFacts[];
    try {
      const { rows } = await db.query<{ r: CreateFacts[] | string }>('SELECT esoz_composition_create_facts_many($1::json) AS r', [
        JSON.stringify(
          creates.map(({ row }) => {
            const body = row.request as CreateCompositionBody;
            return {
              encounter_id: body.encounter.value,
              type: body.type.coding[0].code,
              category: body.category.coding[0].code,
              subject_id: body.subject.value,
              relates_to_id: body.relatesTo?.targetIdentifier.value ?? null,
            };
          }),
        ),
      ]);
      facts = jsonValue(rows[0].r);
    } catch (err) {
      for (const f of creates) await fail(f, err);
      return;
    }
    type Todo = { f: Fetched; episodeId: string | null; failure?: TaskFailure; item: object };
    let todo: Todo[] = [];
    for (const [i, f] of creates.entries()) {
      const body = f.row.request as CreateCompositionBody;
      try {
        checkCreateRules(body, facts[i]);
        todo.push({ f, episodeId: facts[i].episode_id, item: this.compositionItem(f.row, body, facts[i].episode_id) });
      } catch (err) {
        if (err instanceof TaskFailure)
          todo.push({ f, episodeId: null, failure: err, item: { job_id: f.row.id, outcome: 'FAILED', error: err.toJSON() } });
        else await fail(f, err);
      }
    }
    for (let round = 0; todo.length; round++) {
      let answers: { status: 'DONE' | 'FAILED' | 'SKIPPED' | 'TITLE_TAKEN'; on_time?: boolean }[];
      try {
        if (round > 10) throw new Error('could not generate a unique composition title');
        const items = todo.map((t) => t.item);
        answers = await db.transaction(async (tx) => {
          const { rows } = await tx.query<{ r: typeof answers | string }>('SELECT esoz_composition_jobs_finish($1::json) AS r', [
            JSON.stringify(items),
          ]);
          await testDelay('in-transaction');
          return jsonValue<typeof answers>(rows[0].r);
        });
      } catch (err) {
        for (const t of todo) await fail(t.f, err);
        return;
      }
      const again: Todo[] = [];
      todo.forEach((t, i) => {
        const a = answers[i];
        if (a.status === 'TITLE_TAKEN') {
          again.push({ ...t, item: this.compositionItem(t.f.row, t.f.row.request as CreateCompositionBody, t.episodeId) });
        } else if (a.status === 'SKIPPED') {
          results[t.f.k] = { skipped: true };
        } else {
          finished(t.f.row, a.status, a.on_time, started);
          results[t.f.k] = a.status === 'DONE' ? { status: 'DONE' } : { status: 'FAILED', error: t.failure?.type };
        }
      });
      todo = again;
    }
  }

  /** The finishing item of a create job that passed its rules: the new composition, with a fresh title. */
  private compositionItem(row: ClaimedJob, body: CreateCompositionBody, episodeId: string | null) {
    const id = randomUUID();
    const title = generateTitle();
    const custodianId = row.legal_entity_id!;
    const doc = buildDocument({ id, title, date: new Date().toISOString(), custodianId, episodeId, body });
    const href = compositionPath({ subjectId: body.subject.value, encounterId: body.encounter.value, id });
    return {
      job_id: row.id,
      outcome: 'DONE',
      links: [{ entity: 'composition', href }],
      id,
      type_code: body.type.coding[0].code,
      category_code: body.category.coding[0].code,
      title,
      subject_type: body.subject.type.coding[0].code,
      subject_id: body.subject.value,
      focus_type: body.section.focus.type.coding[0].code,
      focus_id: body.section.focus.value,
      encounter_id: body.encounter.value,
      episode_id: episodeId,
      author_id: body.author.value,
      custodian_id: custodianId,
      client_id: row.client_id,
      document: JSON.stringify(doc),
    };
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
    const shapeOk =
      c &&
      typeof c === 'object' &&
      typeof c.id === 'string' &&
      Array.isArray(c.reason?.coding) &&
      c.reason!.coding!.length === 1 &&
      typeof coding?.system === 'string' &&
      typeof coding?.code === 'string' &&
      (c.reason!.text === undefined || (typeof c.reason!.text === 'string' && c.reason!.text.length <= 2000)) &&
      Object.keys(c).every((k) => k === 'id' || k === 'reason');
    if (!shapeOk) {
      throw new TaskFailure(
        'INVALID_SIGNED_DATA',
        'The signed content must be {"id": <composition id>, "reason": {"coding": [{"system", "code"}], "text": <≤ 2000 chars>}}',
      );
    }
    if (String(c.id).toLowerCase() !== compositionId) {
      throw new TaskFailure('INVALID_SIGNED_DATA', `The signed content cancels composition ${String(c.id)}, not ${compositionId}`);
    }
    const { system, code } = coding as { system: string; code: string };
    const reasonOk = async (type: string) =>
      system === CANCELLATION_REASON_SYSTEMS[type] && (await isAllowedCode(this.deps.platform.db, system, code));
    // dictionary lookups before the transaction (they may query, and PGlite serialises transactions)
    const reasonByType: Record<string, boolean> = {};
    for (const type of Object.keys(CANCELLATION_REASON_SYSTEMS)) reasonByType[type] = await reasonOk(type);
    return this.deps.platform.db.transaction(async (tx) => {
      if (!(await this.lockPending(tx, row.id))) return undefined;
      const r = await tx.query<{
        status: string;
        document: string;
        custodian_id: string;
        encounter_id: string;
        subject_id: string;
        type_code: string;
        signed_at: Date | string | null;
      }>(
        'SELECT status, document, custodian_id, encounter_id, subject_id, type_code, signed_at FROM compositions WHERE id = $1 FOR UPDATE',
        [compositionId],
      );
      const comp = r.rows[0];
      if (!comp || comp.custodian_id !== row.legal_entity_id)
        throw new TaskFailure('COMPOSITION_NOT_FOUND', 'The object of the Composition was not found');
      if (comp.status !== 'FINAL') {
        throw new TaskFailure('INVALID_COMPOSITION_STATUS', `Composition is ${comp.status}: only a FINAL composition can be cancelled`);
      }
      if (!reasonByType[comp.type_code]) throw new TaskFailure('INVALID_CANCELLATION_CODING', 'Invalid cancellation coding');
      const days = CANCEL_TIMEOUT_DAYS[comp.type_code];
      if (days && comp.signed_at && Date.now() - new Date(comp.signed_at).getTime() > days * 86400_000) {
        throw new TaskFailure('CANCEL_PERIOD_EXPIRED', `A ${comp.type_code} composition can be cancelled within ${days} days of signing`);
      }
      if (!signed.taxId) {
        throw new TaskFailure(
          'SIGNER_MISMATCH',
          'The signer certificate carries no tax id (subject serialNumber TINUA-… or DRFO attribute)',
        );
      }
      const signer = await tx.query(
        `SELECT 1 FROM employees e JOIN parties p ON p.id = e.party_id
          WHERE e.legal_entity_id = $1 AND e.is_active AND e.status = 'APPROVED' AND upper(p.tax_id) = upper($2) LIMIT 1`,
        [comp.custodian_id, signed.taxId],
      );
      if (!signer.rowCount)
        throw new TaskFailure('SIGNER_MISMATCH', 'The signer is not an employee of the legal entity that issued the composition');
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
        status: string;
        document: string;
        author_id: string;
        custodian_id: string;
        encounter_id: string;
        subject_id: string;
        type_code: string;
        category_code: string;
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
        throw new TaskFailure(
          'SIGNER_MISMATCH',
          'The signer certificate carries no tax id (subject serialNumber TINUA-… or DRFO attribute)',
        );
      }
      if (!authorTaxId || signed.taxId.toUpperCase() !== authorTaxId.toUpperCase()) {
        throw new TaskFailure(
          'SIGNER_MISMATCH',
          "The signer is not the author of the composition (certificate tax id differs from the author's)",
        );
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
