/**
 * Fixture kind `compositions` of POST /admin/fixtures (and of the demo compositions): a composition
 * in any state without create → poll → sign → poll. Upsert by `id`; what the item leaves out is
 * generated as create would make it (title from src/platform/human-number.ts, focus = subject, the
 * episode of the encounter, the document create builds, with the item's status), and a FINAL or
 * ENTERED_IN_ERROR one is signed now unless `signed_at` says otherwise. An update keeps the
 * composition's title and job. `document`, when given, is stored as it is.
 */
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { Db } from '../platform/db.ts';
import type { FixtureKind } from '../platform/platform.ts';
import { CANCELLATION_REASON_SYSTEMS, COMPOSITION_STATUSES } from './model.ts';
import { buildDocument, generateTitle } from './document.ts';
import { fixtureFacts, identityOf, upsertComposition } from './composition-store.ts';
import type { CreateCompositionBody } from './schemas.ts';

/** The client recorded as the creator of a fixture composition (no MIS created it). */
export const FIXTURE_CLIENT_ID = '00000000-0000-0000-0000-000000000000';

const Uuid = Type.String({ format: 'uuid' });
const DateTime = Type.String({ format: 'date-time' });

export const compositionFixtureSchema = Type.Object(
  {
    id: Type.Optional(Uuid),
    status: Type.Union(COMPOSITION_STATUSES.map((s) => Type.Literal(s))),
    type: Type.String({ minLength: 1, maxLength: 255 }),
    category: Type.String({ minLength: 1, maxLength: 255 }),
    subject_id: Uuid,
    encounter_id: Uuid,
    author_id: Uuid,
    legal_entity_id: Uuid,
    /** the COMPOSITION_VALIDITY_PERIOD event (default: from now, five days) */
    period: Type.Optional(
      Type.Object({ start: DateTime, end: Type.Optional(Type.Union([DateTime, Type.Null()])) }, { additionalProperties: false }),
    ),
    signed_at: Type.Optional(Type.Union([DateTime, Type.Null()])),
    document: Type.Optional(Type.Object({}, { additionalProperties: true })),
    /** an ENTERED_IN_ERROR one: its cancellation (the reason a replacement checks, RC_7); cancelled now unless `cancelled_at` says otherwise */
    cancellation: Type.Optional(
      Type.Object(
        {
          reason: Type.String({ minLength: 1, maxLength: 255 }),
          text: Type.Optional(Type.String({ maxLength: 2000 })),
          cancelled_at: Type.Optional(DateTime),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export interface CompositionFixture {
  id?: string;
  status: (typeof COMPOSITION_STATUSES)[number];
  type: string;
  category: string;
  subject_id: string;
  encounter_id: string;
  author_id: string;
  legal_entity_id: string;
  period?: { start: string; end?: string | null };
  signed_at?: string | null;
  document?: Record<string, unknown>;
  cancellation?: { reason: string; text?: string; cancelled_at?: string };
}

const ref = (code: string, value: string) => ({ type: { coding: [{ system: 'eHealth/resources', code }], text: code }, value });

export async function upsertCompositionFixture(tx: Db, item: CompositionFixture): Promise<string> {
  const id = item.id?.toLowerCase() ?? randomUUID();
  const existing = await identityOf(tx, id);
  const { episode_id: episodeId, preperson } = await fixtureFacts(tx, item.encounter_id, item.subject_id);
  const subjectType = preperson ? 'preperson' : 'person';
  const now = new Date();
  const period = item.period ?? { start: now.toISOString(), end: new Date(now.getTime() + 5 * 86400_000).toISOString() };
  // the create request this composition stands for, so the document is the one create would build
  const body: CreateCompositionBody = {
    type: { coding: [{ system: 'COMPOSITION_TYPES', code: item.type }] },
    category: { coding: [{ system: 'COMPOSITION_CATEGORIES', code: item.category }] },
    event: [{ code: { coding: [{ system: 'COMPOSITION_EVENTS', code: 'COMPOSITION_VALIDITY_PERIOD' }] }, period }],
    subject: ref(subjectType, item.subject_id),
    encounter: ref('encounter', item.encounter_id),
    author: ref('employee', item.author_id),
    section: { focus: ref(subjectType, item.subject_id) },
  };
  const title = existing?.title ?? generateTitle();
  const document = item.document ?? {
    ...buildDocument({ id, title, date: now.toISOString(), custodianId: item.legal_entity_id, episodeId, body }),
    status: item.status,
  };
  const signed = item.status === 'FINAL' || item.status === 'ENTERED_IN_ERROR';
  await upsertComposition(tx, {
    id,
    job_id: existing?.job_id ?? randomUUID(),
    status: item.status,
    type_code: item.type,
    category_code: item.category,
    title,
    subject_type: subjectType,
    subject_id: item.subject_id,
    focus_type: subjectType,
    focus_id: item.subject_id,
    encounter_id: item.encounter_id,
    episode_id: episodeId,
    author_id: item.author_id,
    custodian_id: item.legal_entity_id,
    client_id: existing?.client_id ?? FIXTURE_CLIENT_ID,
    document: JSON.stringify(document),
    signed_at: item.signed_at !== undefined ? item.signed_at : signed ? now.toISOString() : null,
    cancel_reason: item.cancellation
      ? JSON.stringify({
          coding: [{ system: CANCELLATION_REASON_SYSTEMS[item.type] ?? '', code: item.cancellation.reason }],
          text: item.cancellation.text ?? '',
        })
      : null,
    cancelled_at: item.cancellation ? (item.cancellation.cancelled_at ?? now.toISOString()) : null,
  });
  return id;
}

export const compositionsFixtureKind: FixtureKind = {
  name: 'compositions',
  schema: compositionFixtureSchema,
  upsert: (tx, item) => upsertCompositionFixture(tx, item),
};
