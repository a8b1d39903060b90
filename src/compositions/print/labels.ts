/**
 * Ukrainian texts of the print form. The registry's dictionaries come first (their descriptions are
 * what an operator maintains); this table answers for a code the registry has no description of, so
 * a form never shows a bare code where a word is known. The values follow the descriptions the
 * dictionaries are seeded with.
 */

export const FALLBACK_LABELS: Record<string, Record<string, string>> = {
  COMPOSITION_TYPES: {
    TEMP_DISABILITY: 'Медичний висновок про тимчасову непрацездатність',
    NEWBORN: 'Медичне свідоцтво про народження',
    DRIVERS: 'Медичний висновок щодо придатності до керування транспортним засобом',
  },
  COMPOSITION_CATEGORIES: {
    SICKNESS: 'Захворювання або травма',
    CHILD_CARE: 'Догляд за дитиною на час хвороби особи, яка доглядає',
    FAMILY_CARE: 'Догляд за хворим членом сім’ї',
    PARENTAL_CARE: 'Догляд за хворою дитиною',
    PREGNANCY: 'Вагітність та пологи',
    QUARANTINE: 'Карантин',
    COVID19: 'Самоізоляція під медичним наглядом (COVID-19)',
    TEMP_TRANSFER: 'Тимчасове переведення на легшу роботу',
    PROSTHETIC: 'Протезування в умовах стаціонару',
    RESTORATION: 'Санаторно-курортне лікування (реабілітація)',
    LIVE_BIRTH: 'Живонародження',
  },
  COMPOSITION_STATUS: {
    PRELIMINARY: 'Попередній',
    FINAL: 'Підписаний',
    AMENDED: 'Замінений',
    ENTERED_IN_ERROR: 'Внесений помилково',
  },
  'eHealth/COMPOSITION_CANCELLATION_REASONS_TEMP_DISABILITY': {
    INCORRECT_CATEGORY: 'Помилкове зазначення категорії',
    INCORRECT_DISABILITY_PERIOD: 'Помилкове зазначення строків непрацездатності',
    INCORRECT_INOXICATION: 'Помилка у відмітці про сп’яніння',
    INCORRECT_OTHER: 'Помилкове зазначення інших відомостей',
    INCORRECT_PATIENT: 'Помилка ідентифікації',
    INCORRECT_TRITMENT_VIOLATION: 'Помилка у відмітці про порушення режиму',
  },
  'eHealth/COMPOSITION_CANCELLATION_REASONS_NEWBORN': {
    INCORRECT_PATIENT: 'Невірно ідентифікований пацієнт',
    TYPO: 'Механічна помилка введення даних',
  },
};

const day = new Intl.DateTimeFormat('uk-UA', { timeZone: 'Europe/Kyiv', day: '2-digit', month: '2-digit', year: 'numeric' });
const dayTime = new Intl.DateTimeFormat('uk-UA', {
  timeZone: 'Europe/Kyiv',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/**
 * `dd.mm.yyyy` of a date-time as a calendar day in Kyiv (a validity period ending 2026-09-05T20:59:59Z
 * ends on the 5th, as ERLN reads it); a bare date is kept; text that is no date is shown as it is.
 */
export function kyivDate(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const bare = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (bare) return `${bare[3]}.${bare[2]}.${bare[1]}`;
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : day.format(t);
}

/** `dd.mm.yyyy, HH:MM` in Kyiv. */
export function kyivDateTime(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : dayTime.format(t);
}

/** "Last First Second", the order of Ukrainian documents; null when the registry holds no part of it. */
export function fullName(n: { first_name: string | null; last_name: string | null; second_name: string | null } | null): string | null {
  if (!n) return null;
  const s = [n.last_name, n.first_name, n.second_name].filter((x) => x && x.trim() !== '').join(' ');
  return s === '' ? null : s;
}
