/**
 * GET …/composition/{id}/episode/{episodeId}/encounter/{encounterId}/printForm?templateId= (getPrintForm):
 * the composition as a printable HTML page, in any status, rendered anew on every call (nothing is
 * stored). The page is an Eta template under print/ that escapes every value; the names come from
 * the registry at the time of the call.
 */
import path from 'node:path';
import { Eta } from 'eta';
import type { RequestContext } from '../platform/context.ts';
import { notFound } from '../platform/errors.ts';
import { SCHEMA } from '../platform/migrate.ts';
import { serviceKey } from '../platform/services.ts';
import { slNumOf } from '../erln/task-store.ts';
import { CANCELLATION_REASON_SYSTEMS } from './model.ts';
import { MESSAGES } from './messages.ts';
import { compositionAt } from './read.ts';
import { dictionaryDescriptions, printFactsOf } from './print/store.ts';
import { FALLBACK_LABELS, fullName, kyivDate, kyivDateTime } from './print/labels.ts';

/**
 * EMAL_PRINT_FORM_ALLOWED_TEMPLATE_IDS_BY_CATEGORY: the template each composition type may be printed
 * with (the setting is keyed by what this service calls the type). A type without one has no form.
 */
export const PRINT_FORM_TEMPLATE_IDS: Readonly<Record<string, readonly number[]>> = {
  TEMP_DISABILITY: [1001],
  NEWBORN: [1000],
};

/** The Eta engine of the print templates: one per runtime, templates compiled once and cached. */
export const PRINT_TEMPLATES = serviceKey(
  'compositions.printTemplates',
  // the project root, not this module's directory: `npm start` runs a bundle from node_modules/.cache
  () => new Eta({ views: path.join(SCHEMA.root, 'src', 'compositions', 'print'), autoEscape: true, cache: true }),
);

interface Coding {
  coding?: { system?: unknown; code?: unknown }[];
  text?: unknown;
}
interface PrintedDocument {
  title?: unknown;
  date?: unknown;
  type?: Coding;
  category?: Coding;
  event?: { code?: Coding; period?: { start?: unknown; end?: unknown } }[];
}

const codeOf = (c: Coding | undefined): string | null => {
  const code = c?.coding?.[0]?.code;
  return typeof code === 'string' ? code : null;
};

export async function getPrintForm(
  ctx: RequestContext,
  id: string,
  match: { patientId: string; encounterId: string; episodeId: string },
  templateId: number,
): Promise<string> {
  // 1. token, scope composition:read → 401 / 403                            (platform onRequest hook)
  // 2. templateId is given and is an integer → 422                          (HTTP layer, schemas.ts PrintFormQuery)
  // 3. the composition exists at this path and is the caller's → 404 "Composition not found" (read.ts
  //    compositionAt, its steps 2–5: the same answer as getComposition)
  const c = await compositionAt(ctx, id, match);
  // 4. the template is the one of the composition's type → 404 "Form not found"
  if (!(PRINT_FORM_TEMPLATE_IDS[c.type_code] ?? []).includes(templateId)) throw notFound(MESSAGES.formNotFound);
  // 5. the page, from the document, the registry's names and dictionaries, and ERLN's SL number
  const db = ctx.platform.db;
  const doc = JSON.parse(c.document) as PrintedDocument;
  const facts = await printFactsOf(db, c.id);
  const reason = facts?.cancel_reason ? (JSON.parse(facts.cancel_reason) as Coding) : null;
  const reasonSystem = CANCELLATION_REASON_SYSTEMS[c.type_code] ?? null;
  const typeCode = codeOf(doc.type) ?? c.type_code;
  const categoryCode = codeOf(doc.category);
  const reasonCode = codeOf(reason ?? undefined);
  const wanted = [
    { dictionary: 'COMPOSITION_TYPES', code: typeCode },
    { dictionary: 'COMPOSITION_CATEGORIES', code: categoryCode },
    { dictionary: 'COMPOSITION_STATUS', code: c.status },
    { dictionary: reasonSystem, code: reasonCode },
  ].filter((w): w is { dictionary: string; code: string } => w.dictionary !== null && w.code !== null);
  const described = await dictionaryDescriptions(db, wanted);
  const label = (dictionary: string | null, code: string | null): string | null =>
    dictionary === null || code === null
      ? null
      : (described.get(`${dictionary}\u0000${code}`) ?? FALLBACK_LABELS[dictionary]?.[code] ?? code);
  // a fixture may store any document: read it defensively, never a 500 for its shape
  const period = (Array.isArray(doc.event) ? doc.event : []).find((e) => codeOf(e?.code) === 'COMPOSITION_VALIDITY_PERIOD')?.period;
  const slNum = c.type_code === 'TEMP_DISABILITY' && c.status !== 'PRELIMINARY' ? await slNumOf(db, c.id) : null;
  const patient = fullName(facts?.subject ?? null);
  const focus = c.focus_id !== null && c.focus_id !== c.subject_id ? fullName(facts?.focus ?? null) : null;
  return ctx.platform.services.get(PRINT_TEMPLATES).render('form', {
    type: label('COMPOSITION_TYPES', typeCode),
    title: typeof doc.title === 'string' ? doc.title : '',
    status: c.status,
    statusLabel: label('COMPOSITION_STATUS', c.status),
    date: kyivDateTime(doc.date),
    patient,
    focus,
    periodStart: kyivDate(period?.start),
    periodEnd: kyivDate(period?.end),
    category: label('COMPOSITION_CATEGORIES', categoryCode),
    doctor: fullName(facts?.author ?? null),
    institution: facts?.legal_entity_name ?? null,
    slNum,
    cancellation:
      c.status === 'ENTERED_IN_ERROR'
        ? { reason: label(reasonSystem, reasonCode), text: typeof reason?.text === 'string' ? reason.text : null }
        : null,
    printedAt: kyivDateTime(new Date().toISOString()),
  });
}
