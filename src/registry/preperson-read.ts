/**
 * GET /api/prepersons/{id} (Get preperson by ID), and what the other preperson methods share.
 */
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { findPreperson, type PrepersonView } from './preperson-store.ts';
import { MESSAGES } from './preperson-schemas.ts';

/**
 * `inserted_by` / `updated_by`: the user of the token ("extract user from token"); a sandbox token
 * issued without a user stands for its MIS client, so the audit field names the client instead.
 */
export function auditUser(ctx: RequestContext): string {
  return ctx.auth.userId ?? ctx.auth.clientId;
}

export async function getPreperson(ctx: RequestContext, id: string): Promise<PrepersonView> {
  // 1. token valid and not expired → 401 "Invalid access token"           (platform onRequest hook)
  // 2. scope preperson:read → 403 "Your scope does not allow …"           (platform onRequest hook)
  // 3. the preperson exists (and MPI keeps it: is_active) → 404 "Preperson not found"
  const preperson = await findPreperson(ctx.platform.db, id);
  if (!preperson) throw notFound(MESSAGES.notFound);
  return preperson;
}
