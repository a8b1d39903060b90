/**
 * GET …/composition/{id}/episode/{episodeId}/encounter/{encounterId}/integrationData
 * (getIntegrationData): how the composition fared in the registers it is handed to — ERLN for an
 * МВТН. The tasks are src/erln's (task-store.ts).
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { tasksOf } from '../erln/task-store.ts';
import { MESSAGES } from './messages.ts';
import { compositionAt } from './read.ts';

export async function getIntegrationData(
  ctx: RequestContext,
  id: string,
  match: { patientId: string; encounterId: string; episodeId: string },
) {
  // 1. token, scope composition:read → 401 / 403                            (platform onRequest hook)
  // 2–5. the composition exists at this path and is the caller's → 404 "Composition not found" (read.ts)
  const c = await compositionAt(ctx, id, match);
  // 6. it is FINAL, AMENDED or ENTERED_IN_ERROR: a PRELIMINARY one was handed to no one → 404
  if (c.status === 'PRELIMINARY') throw notFound(MESSAGES.compositionNotFound);
  // 7. its tasks, oldest first (an empty list when there are none)
  return (await tasksOf(ctx.platform.db, c.id)).map((t) => ({
    component: t.component,
    type: t.type,
    integrationStatus: t.integration_status,
    taskStatus: t.task_status,
    statusCode: t.status_code,
    statusMessage: t.status_message,
    details: t.details.SL_NUM ? { SL_NUM: t.details.SL_NUM } : {},
    updatedAt: new Date(t.updated_at).toISOString(),
  }));
}
