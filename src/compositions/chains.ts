/**
 * МВТН chains (docs/compositions.md, "Chains"): what create, sign and the ERLN request share about a
 * composition that links to an earlier one (relatesTo) — which flow it is, and for RC_5 whether its
 * period extends or reduces its target's.
 */

/** RC_5 extension/reduction (`appends`), RC_6 refinement preperson → person and RC_7 replacement (`replaces`). */
export type ChainFlow = 'RC_5' | 'RC_6' | 'RC_7';

/** relatesTo.code compared case-insensitively: the published texts write REPLACES, MIS send replaces. */
export const relatesToCode = (code: string | null | undefined): 'replaces' | 'appends' | null => {
  const c = code?.toLowerCase();
  return c === 'replaces' || c === 'appends' ? c : null;
};

interface EventLike {
  code?: { coding?: { code?: string }[] };
  period?: { start?: string; end?: string | null };
}

const kyivDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Kyiv', year: 'numeric', month: '2-digit', day: '2-digit' });
/**
 * The calendar day (`YYYY-MM-DD`, Kyiv) of an ISO date-time: the periods of an МВТН are days in
 * Kyiv, as ERLN receives them (src/erln/mapping.ts).
 */
export const dayOf = (value: string): string => (/^\d{4}-\d{2}-\d{2}$/.test(value) ? value : kyivDay.format(new Date(value)));

/** The day of a stored value, or null when it is no date (fixtures may store documents of any shape). */
const storedDayOf = (value: unknown): string | null =>
  typeof value === 'string' && (/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isNaN(Date.parse(value))) ? dayOf(value) : null;

/** `day` plus `n` calendar days. */
export const addDays = (day: string, n: number): string =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86400_000).toISOString().slice(0, 10);

/** The validity period of a composition as Kyiv days (end null when the period is open). */
export function validityDays(event: EventLike[] | null | undefined): { start: string; end: string | null } | null {
  if (!Array.isArray(event)) return null;
  const e = event.find((x) => x?.code?.coding?.[0]?.code === 'COMPOSITION_VALIDITY_PERIOD') ?? event[0];
  if (typeof e?.period?.start !== 'string') return null;
  const start = storedDayOf(e.period.start);
  const end = typeof e.period.end === 'string' ? storedDayOf(e.period.end) : null;
  if (!start || (typeof e.period.end === 'string' && !end)) return null;
  return { start, end };
}

/**
 * RC_5: how a link's period relates to its target's. An extension starts the day after the target's
 * end; a reduction starts with the target and ends earlier. Anything else is neither (null).
 */
export function appendsKind(
  target: EventLike[] | null | undefined,
  link: EventLike[] | null | undefined,
): 'EXTENSION' | 'REDUCTION' | null {
  const t = validityDays(target);
  const l = validityDays(link);
  if (!t?.end || !l?.end) return null;
  if (l.start === addDays(t.end, 1)) return 'EXTENSION';
  if (l.start === t.start && l.end < t.end) return 'REDUCTION';
  return null;
}
