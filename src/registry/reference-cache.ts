/**
 * Reference rows (PRM and the medication registry: legal entities, divisions, employees with their
 * parties, medications, medical programs) cached per process, as the shapes the views render.
 *
 * Exact, not time-based: every statement that writes one of these tables bumps `registry_version`
 * in its transaction (the triggers of src/registry/sql/esoz_bump_registry_version.sql), and a hot read returns the version it saw. A cached row is
 * served only to a request whose own read saw the version the row was cached at; a newer version
 * empties the cache. So a change is visible to the very next request of every process, and a
 * request never mixes rows older than its own read. Rows that do not exist are cached as missing
 * under the same rule (creating them bumps the version).
 */
import type { Db } from '../platform/db.ts';
import { jsonValue } from '../platform/json.ts';
import { boundedCache } from '../platform/bounded-cache.ts';
import { serviceKey } from '../platform/services.ts';

type Json = Record<string, any>;

export interface ReferenceIds {
  legalEntityId: string | null;
  divisionId: string | null;
  employeeId: string | null;
  medicationId: string | null;
  medicalProgramId: string | null;
}

export interface References {
  legal_entity: Json | null;
  division: Json | null;
  employee: Json | null;
  party: Json | null;
  medication: Json | null;
  medical_program: Json | null;
}

interface ReferencesRow extends References {
  version: number | string;
}

/** Entries kept per process; past this the least recently used go (the registry of a region fits many times over). */
const MAX_ENTRIES = 20_000;

/** Stands for a row known not to exist: the cache keeps no null values. */
const MISSING: Json = Object.freeze({});

/** Cached rows are shared by every request that renders them: frozen, so nothing changes one by accident. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const parse = (v: Json | string | null): Json | null => jsonValue<Json | null>(v) ?? null;

export class ReferenceCache {
  private version = -1;
  private readonly rows = boundedCache<string, Json>(MAX_ENTRIES);

  constructor(private readonly db: Db) {}

  /**
   * The reference rows of `ids` as of registry version `seenVersion` (what the caller's read
   * returned) or newer: from the cache when it holds that version, else from one statement.
   */
  async resolve(seenVersion: number, ids: ReferenceIds): Promise<References> {
    const v = Number(seenVersion);
    if (v > this.version) this.reset(v);
    if (v === this.version) {
      const hit = this.lookup(ids);
      if (hit) return hit;
    }
    const { rows } = await this.db.query<ReferencesRow>(
      `SELECT version, legal_entity, division, employee, party, medication, medical_program
         FROM esoz_registry_references($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid)`,
      [ids.legalEntityId, ids.divisionId, ids.employeeId, ids.medicationId, ids.medicalProgramId],
    );
    const r = rows[0];
    const refs: References = {
      legal_entity: parse(r.legal_entity),
      division: parse(r.division),
      employee: parse(r.employee),
      party: parse(r.party),
      medication: parse(r.medication),
      medical_program: parse(r.medical_program),
    };
    // rows read at an older version than the cache holds (a concurrent request moved it on) are used once, not kept
    const at = Number(r.version);
    if (at > this.version) this.reset(at);
    if (at === this.version) this.store(ids, deepFreeze(refs));
    return refs;
  }

  /** Forget everything (tests; the version check makes this unnecessary in service). */
  clear() {
    this.reset(this.version);
  }

  private reset(version: number) {
    this.version = version;
    this.rows.clear();
  }

  private lookup(ids: ReferenceIds): References | undefined {
    const get = (kind: string, id: string | null) => {
      if (id === null) return null;
      const row = this.rows.get(`${kind}:${id}`);
      return row === MISSING ? null : row;
    };
    const legal_entity = get('le', ids.legalEntityId);
    const division = get('div', ids.divisionId);
    const employee = get('emp', ids.employeeId);
    const party = get('party', ids.employeeId);
    const medication = get('med', ids.medicationId);
    const medical_program = get('prog', ids.medicalProgramId);
    if ([legal_entity, division, employee, party, medication, medical_program].some((x) => x === undefined)) return undefined;
    return { legal_entity, division, employee, party, medication, medical_program } as References;
  }

  private store(ids: ReferenceIds, refs: References) {
    const put = (kind: string, id: string | null, row: Json | null) => {
      if (id !== null) this.rows.set(`${kind}:${id}`, row ?? MISSING);
    };
    put('le', ids.legalEntityId, refs.legal_entity);
    put('div', ids.divisionId, refs.division);
    put('emp', ids.employeeId, refs.employee);
    // the party is reached through the employee: keyed by the employee id
    put('party', ids.employeeId, refs.party);
    put('med', ids.medicationId, refs.medication);
    put('prog', ids.medicalProgramId, refs.medical_program);
  }
}

/** The reference cache of a runtime (its copies are per process; closed with the runtime). */
export const REFERENCE_CACHE = serviceKey('registry reference cache', (platform) => new ReferenceCache(platform.db));
