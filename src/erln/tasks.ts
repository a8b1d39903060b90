/**
 * The ERLN worker: one integration task, one call to ERLN per try, nothing twice.
 *   1. claim the task (PENDING, no live lease): counts the call and leases it — a DONE or FAILED task
 *      is never claimed, so ERLN never hears of it again;
 *   2. build the request from the composition (mapping.ts) — CANCEL needs the SL number ERLN gave;
 *   3. call ERLN outside any transaction, with the task id as idempotency key, so a worker killed
 *      after ERLN accepted but before step 4 makes a retry that ERLN answers from its first answer;
 *   4. store the answer (DONE: SUCCESS with SL_NUM, or ERROR with ERLN's code and message); no answer
 *      → the task stays PENDING with the reason and the queue retries with backoff, until
 *      ERLN_MAX_TRIES calls: then FAILED / ERROR "ERLN was unreachable…", which RC_4 can re-send.
 */
import type { Db } from '../platform/db.ts';
import type { Logger } from '../platform/logging.ts';
import type { ErlnGateway } from './gateway.ts';
import { ErlnUnreachableError } from './gateway.ts';
import type { ErlnReply } from './contract.ts';
import { erlnCancelRequest, erlnCreateRequest, erlnRequestType } from './mapping.ts';
import { markDone, markFailed } from '../compositions/job-store.ts';
import { pathOfComposition } from '../compositions/composition-store.ts';
import { TaskFailure } from '../compositions/model.ts';
import { MESSAGES } from '../compositions/messages.ts';
import {
  type IntegrationTask,
  cancelReasonOf,
  claimTask,
  createInputOf,
  finishAnswered,
  recordUnreachable,
  slNumOf,
  taskById,
} from './task-store.ts';

export interface ErlnWorkerDeps {
  db: Db;
  log: Logger;
  gateway: ErlnGateway;
  maxTries: number;
  leaseSeconds: number;
}

/** Thrown to make the queue run the task again later (the message is safe to log). */
export class RetryErlnLater extends Error {}

export const NO_PERSON_MESSAGE = 'The person on leave (section.focus) is not an identified person: ERLN keeps no record for a preperson';
export const NO_RECORD_MESSAGE = 'ERLN holds no record of this composition to cancel';
export const unreachableMessage = (tries: number, reason: string) => `ERLN was unreachable after ${tries} calls: ${reason}`;

export type TaskResult = 'DONE' | 'FAILED' | 'ALREADY_DONE';

export async function runErlnTask(deps: ErlnWorkerDeps, taskId: string): Promise<TaskResult> {
  const { db, log } = deps;
  // 1. claim
  const task = await claimTask(db, taskId, deps.leaseSeconds);
  if (!task) {
    const current = await taskById(db, taskId);
    if (!current || current.task_status !== 'PENDING') return 'ALREADY_DONE';
    throw new RetryErlnLater('the ERLN task is being run by another worker');
  }
  // 2. the request
  let call: () => Promise<ErlnReply>;
  if (task.type === 'CREATE_ERLN_RECORD') {
    const input = await createInputOf(db, task.composition_id);
    if (!input) return finish(deps, task, { ACCEPTED: false, RESULT: null, MESSAGE: NO_PERSON_MESSAGE, SL_NUM: null });
    const request = erlnCreateRequest({ ...input, ...erlnRequestType(input) });
    call = () => deps.gateway.createRecord(request, task.id);
  } else {
    const slNum = await slNumOf(db, task.composition_id);
    if (!slNum) return finish(deps, task, { ACCEPTED: false, RESULT: null, MESSAGE: NO_RECORD_MESSAGE, SL_NUM: null });
    const request = erlnCancelRequest({ compositionId: task.composition_id, slNum, reason: await cancelReasonOf(db, task.composition_id) });
    call = () => deps.gateway.cancelRecord(request, task.id);
  }
  // 3. the call
  let reply: ErlnReply;
  try {
    reply = await call();
  } catch (err) {
    if (!(err instanceof ErlnUnreachableError)) throw err;
    const final = task.attempts >= deps.maxTries;
    const message = final ? unreachableMessage(task.attempts, err.message) : err.message;
    await db.transaction(async (tx) => {
      await recordUnreachable(tx, task.id, message, final);
      if (final && task.job_id) await markFailed(tx, task.job_id, new TaskFailure('ERLN_UNREACHABLE', message).toJSON());
    });
    log.warn({ task_id: task.id, type: task.type, attempts: task.attempts, final, reason: err.message }, 'ERLN did not answer');
    if (final) return 'FAILED';
    throw new RetryErlnLater(err.message);
  }
  // 4. the answer
  await finish(deps, task, reply);
  log.info(
    { task_id: task.id, type: task.type, attempts: task.attempts, accepted: reply.ACCEPTED, result: reply.RESULT, sl_num: reply.SL_NUM },
    'ERLN answered',
  );
  return 'DONE';
}

/** Stores an answer (ERLN's, or the worker's own when there was nothing to send) and finishes RC_4's job with it. */
async function finish(deps: ErlnWorkerDeps, task: IntegrationTask, reply: ErlnReply): Promise<'DONE'> {
  await deps.db.transaction(async (tx) => {
    await finishAnswered(tx, task.id, reply);
    if (!task.job_id) return;
    if (reply.ACCEPTED) {
      const href = await pathOfComposition(tx, task.composition_id);
      await markDone(tx, task.job_id, task.composition_id, href ? [{ entity: 'composition', href }] : []);
    } else {
      await markFailed(tx, task.job_id, new TaskFailure('ERLN_REJECTED', MESSAGES.erlnRejected(reply.RESULT, reply.MESSAGE)).toJSON());
    }
  });
  return 'DONE';
}
