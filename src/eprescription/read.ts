/**
 * The hot read of GET /api/medication_requests/{id} and of the resend: ONE statement
 * (src/eprescription/sql/esoz_medication_request_read_many.sql: one
 * set-based query over the batch's items) that checks visibility, reads the SMS timeout window and
 * returns only what this process does not already hold. Concurrent reads are coalesced into that one statement (src/platform/batch.ts).
 *
 * Each process keeps copies of what every request would otherwise rebuild and transfer: the MR's own
 * fields (keyed by id, versioned by the row version), the person with their active authentication
 * methods (versioned by the 'mpi' registry version, and valid until the earliest future `ended_at`
 * among those methods), and the reference rows (ReferenceCache, versioned by 'prm'). The statement
 * returns the current versions every time and the data only when the caller's copy is not current,
 * so a copy is never served once the database holds something newer: it is a conditional read, not
 * a time-based cache. (docs/decisions.md (ePrescription), "Resend hot path")
 */
import type { Db } from '../platform/db.ts';
import { boundedCache } from '../platform/bounded-cache.ts';
import type { AuthMethodRow } from '../registry/mpi.ts';
import { deepFreeze, REFERENCE_CACHE, type ReferenceCache } from '../registry/reference-cache.ts';
import { toSmsWindow, type SmsWindow } from '../platform/sms/sms-timeout.ts';
import { jsonFunctionBatcher, type StatementBatcher } from '../platform/batch.ts';
import { serviceKey } from '../platform/services.ts';
import type { Platform } from '../platform/platform.ts';
import { REQUEST_NUMBER_RE } from './request-number.ts';
import { UUID_RE } from '../platform/uuid.ts';
import { SEE_ALL_LE_TYPES, type LoadedMr } from './view.ts';

/** The MR's own fields as the read returns them (the view's fields without the reference rows). */
type MrOwn = Omit<LoadedMr, 'legal_entity' | 'division' | 'employee' | 'party' | 'medication' | 'medical_program' | 'person'> & {
  division_id: string;
  employee_id: string;
};

interface PersonCopy {
  mpiVersion: number;
  /** ms since epoch; Infinity when no active method has an end date */
  validUntil: number;
  person: LoadedMr['person'];
  methods: AuthMethodRow[];
}

/** The function's one json value (NULL: the caller may not see the MR). */
interface ReadResult {
  mr_id: string;
  mr_version: number;
  mr: MrOwn | null;
  person_id: string;
  mpi_version: number;
  person: LoadedMr['person'] | null;
  methods: AuthMethodRow[] | null;
  ref_version: number;
  live: number | null;
  oldest: string | null;
  at: string | null;
}

/** One item of esoz_medication_request_read_many (src/eprescription/sql/esoz_medication_request_read_many.sql): the single read's arguments. */
interface ReadItem {
  id: string | null;
  number: string | null;
  le: string;
  types: readonly string[];
  entity_name: string | null;
  timeout: number | null;
  mr_version: number | null;
  person: string | null;
  mpi_version: number | null;
}

/** Copies kept per kind; past this the least recently used go. */
const MAX_COPIES = 20_000;

export interface MedicationRequestRead {
  mr: LoadedMr;
  /** The person's active authentication methods (for the §4.4 precedence of check 8). */
  methods: AuthMethodRow[];
  /** The MR's SMS timeout window read without the lock (resend only; see resend.ts step 9). */
  window: SmsWindow;
}

export class MedicationRequestReader {
  private readonly mrs = boundedCache<string, { version: number; own: MrOwn }>(MAX_COPIES);
  /** request_number → id, so a read by number finds the copy too */
  private readonly ids = boundedCache<string, string>(MAX_COPIES);
  private readonly persons = boundedCache<string, PersonCopy>(MAX_COPIES);
  /** concurrent reads leave as one statement (src/platform/batch.ts) */
  private readonly batch: StatementBatcher<ReadItem, ReadResult | null>;

  constructor(
    db: Db,
    private readonly references: ReferenceCache,
  ) {
    this.batch = jsonFunctionBatcher<ReadItem, ReadResult | null>(db, 'esoz_medication_request_read_many');
  }

  /**
   * The MR the caller may see, by id (UUID) or request number, with its references; undefined for an
   * unknown MR, an MR of another legal entity, or an id of neither form. With `window`, also the MR's
   * SMS timeout window (entity `window.entityName`, the MR's id) read without a lock.
   */
  async read(
    rawId: string,
    callerLegalEntityId: string | null,
    window?: { entityName: string; sendTimeoutSeconds: number },
  ): Promise<MedicationRequestRead | undefined> {
    if (!callerLegalEntityId) return undefined;
    const byId = UUID_RE.test(rawId);
    if (!byId && !REQUEST_NUMBER_RE.test(rawId)) return undefined;
    const key = byId ? rawId.toLowerCase() : rawId;
    const knownId = byId ? key : this.ids.get(key);
    const mrCopy = knownId ? this.mrs.get(knownId) : undefined;
    const personCopy = mrCopy ? this.persons.get(mrCopy.own.person_id) : undefined;
    const personUsable = personCopy && personCopy.validUntil > Date.now() ? personCopy : undefined;

    const row = await this.batch.run({
      id: byId ? key : null,
      number: byId ? null : rawId,
      le: callerLegalEntityId,
      types: SEE_ALL_LE_TYPES,
      entity_name: window?.entityName ?? null,
      timeout: window?.sendTimeoutSeconds ?? null,
      mr_version: mrCopy?.version ?? null,
      person: personUsable ? mrCopy!.own.person_id : null,
      mpi_version: personUsable?.mpiVersion ?? null,
    });
    if (!row) return undefined;

    let own: MrOwn;
    const freshMr = row.mr;
    if (freshMr) {
      own = deepFreeze(freshMr);
      this.mrs.set(row.mr_id, { version: Number(row.mr_version), own });
      this.ids.set(own.request_number, row.mr_id);
    } else {
      own = mrCopy!.own;
    }

    let person: PersonCopy;
    if (row.person !== null || row.methods !== null) {
      const methods = row.methods ?? [];
      // the copy is good until the first method (or confidant method) ends by itself
      const until = Math.min(Infinity, ...methods.map((m) => (m.valid_until ? Date.parse(m.valid_until) : Infinity)));
      person = deepFreeze({ mpiVersion: Number(row.mpi_version), validUntil: until, person: row.person, methods });
      this.persons.set(row.person_id, person);
    } else {
      person = personUsable!;
    }

    const refs = await this.references.resolve(Number(row.ref_version), {
      legalEntityId: own.legal_entity_id,
      divisionId: own.division_id,
      employeeId: own.employee_id,
      medicationId: own.medication_id,
      medicalProgramId: own.medical_program_id,
    });
    const mr = { ...own, person: person.person, ...refs } as LoadedMr;
    return { mr, methods: person.methods, window: toSmsWindow(row) };
  }

  /** Forget every copy (tests; the versions make this unnecessary in service). */
  clear() {
    this.mrs.clear();
    this.ids.clear();
    this.persons.clear();
    this.references.clear();
  }
}

/** The reader of a runtime (its copies are per process). */
export const MEDICATION_REQUEST_READER = serviceKey(
  'medication request reader',
  (platform) => new MedicationRequestReader(platform.db, platform.services.get(REFERENCE_CACHE)),
);

export function medicationRequestReaderOf(platform: Platform): MedicationRequestReader {
  return platform.services.get(MEDICATION_REQUEST_READER);
}
