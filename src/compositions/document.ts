/** The composition document: building it, its human-readable number, and semantic JSON comparison. */
import { createHash } from 'node:crypto';
import { ESOZ_HUMAN_NUMBER } from '../platform/human-number.ts';
import { RESOURCES_SYSTEM } from './model.ts';
import type { CreateCompositionBody } from './schemas.ts';

/** A random ESOZ human-readable number (src/platform/human-number.ts); uniqueness is enforced by the database. */
export const generateTitle = (): string => ESOZ_HUMAN_NUMBER.random();

export const TITLE_RE = ESOZ_HUMAN_NUMBER.pattern;

const EMPTY = '\u0000empty';

/**
 * A canonical form for comparing JSON documents by meaning: object key order is ignored, `{}` and
 * `[]` are the same empty container, numbers compare by value (1.0 == 1), and string escapes are
 * whatever JSON.parse made of them. Arrays keep their order.
 */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? EMPTY : value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    if (keys.length === 0) return EMPTY;
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  if (typeof value === 'number' && Object.is(value, -0)) return 0;
  return value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

export function sameDocument(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** First path where two documents differ (for a helpful mismatch message). */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  const ca = canonical(a);
  const cb = canonical(b);
  if (JSON.stringify(ca) === JSON.stringify(cb)) return null;
  if (ca && cb && typeof ca === 'object' && typeof cb === 'object' && Array.isArray(ca) === Array.isArray(cb)) {
    if (Array.isArray(ca) && Array.isArray(cb)) {
      for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
        const d = firstDifference((a as unknown[])[i], (b as unknown[])[i], `${path}[${i}]`);
        if (d) return d;
      }
      return path;
    }
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of [...keys].sort()) {
      const d = firstDifference((a as any)[k], (b as any)[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return path;
}

export function requestHash(kind: string, target: string | null, body: unknown): string {
  return createHash('sha256').update(canonicalJson({ kind, target, body })).digest('hex');
}

const ref = (code: string, value: string) => ({ type: { coding: [{ system: RESOURCES_SYSTEM, code }], text: code }, value });

export interface BuildInput {
  id: string;
  title: string;
  date: string;
  custodianId: string;
  episodeId: string | null;
  body: CreateCompositionBody;
}

/** The document as GET returns it, fields in a fixed order. */
export function buildDocument(i: BuildInput): Record<string, unknown> {
  const b = i.body;
  const doc: Record<string, unknown> = {
    identifier: { value: i.id },
    status: 'PRELIMINARY',
    type: b.type,
    category: b.category,
    title: i.title,
    date: i.date,
    event: b.event,
    subject: b.subject,
    encounter: b.encounter,
  };
  if (i.episodeId) doc.episodeOfCare = ref('episode_of_care', i.episodeId);
  doc.author = b.author;
  doc.custodian = ref('legal_entity', i.custodianId);
  doc.section = b.section;
  if (b.extension) doc.extension = b.extension;
  if (b.relatesTo) doc.relatesTo = b.relatesTo;
  return doc;
}

/** getComposition path of the seed's sequence diagram (the `href` of a DONE job). */
export function compositionPath(c: { subjectId: string; encounterId: string; id: string }, prefix = '/api'): string {
  return `${prefix}/patients/${c.subjectId}/encounter/${c.encounterId}/composition/${c.id}`;
}
