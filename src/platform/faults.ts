/**
 * Faults the sandbox injects on purpose (`PUT /admin/faults`): the SMS gateway down, slow or failing the
 * next N messages; composition jobs slow or failing the next N with a chosen ESOZ task error. The state
 * is one row of sandbox_state, so every process (API and workers) sees it; each process reads it at
 * most once a second, and the process that set it at once. With nothing set, a read is all it costs.
 */
import { Type, type Static } from 'typebox';
import type { Db } from './db.ts';
import { serviceKey } from './services.ts';

export const FaultsState = Type.Object({
  sms: Type.Object({
    mode: Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('slow')], {
      description: 'ok; down = the gateway does not answer (delivery retries, then FAILED); slow = each send takes delay_ms',
    }),
    delay_ms: Type.Integer({ minimum: 0, maximum: 60_000 }),
    fail_next: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'the next N sends fail (then mode applies)' }),
  }),
  composition_jobs: Type.Object({
    delay_ms: Type.Integer({ minimum: 0, maximum: 60_000, description: 'each composition job waits this long before it runs' }),
    fail_next: Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'the next N composition jobs end FAILED with error_type' }),
    error_type: Type.String({ description: 'the ESOZ task error the failed jobs carry (its code follows from it)' }),
    message: Type.String({ maxLength: 1000 }),
  }),
});
export type FaultsState = Static<typeof FaultsState>;

export const NO_FAULTS: FaultsState = {
  sms: { mode: 'ok', delay_ms: 0, fail_next: 0 },
  composition_jobs: {
    delay_ms: 0,
    fail_next: 0,
    error_type: 'INTERNAL_ERROR',
    message: 'Fault injected by the sandbox (PUT /admin/faults)',
  },
};

const KEY = 'faults';
const FRESH_MS = 1000;

/** One process's view of the faults. */
export class Faults {
  private cached: { at: number; state: FaultsState } | undefined;

  constructor(private readonly db: Db) {}

  async current(): Promise<FaultsState> {
    if (this.cached && Date.now() - this.cached.at < FRESH_MS) return this.cached.state;
    const r = await this.db.query<{ value: Partial<FaultsState> }>('SELECT value FROM sandbox_state WHERE key = $1', [KEY]);
    const state = merge(NO_FAULTS, r.rows[0]?.value ?? {});
    this.cached = { at: Date.now(), state };
    return state;
  }

  /** Sets (merges) faults and answers what is set now. */
  async set(patch: { sms?: Partial<FaultsState['sms']>; composition_jobs?: Partial<FaultsState['composition_jobs']> }, db: Db = this.db) {
    const state = await db.transaction(async (tx) => {
      const r = await tx.query<{ value: Partial<FaultsState> }>('SELECT value FROM sandbox_state WHERE key = $1 FOR UPDATE', [KEY]);
      const next = merge(merge(NO_FAULTS, r.rows[0]?.value ?? {}), patch);
      await tx.query('INSERT INTO sandbox_state(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [
        KEY,
        JSON.stringify(next),
      ]);
      return next;
    });
    this.cached = { at: Date.now(), state };
    return state;
  }

  /** Clears every fault (reset). */
  async clear(db: Db = this.db): Promise<void> {
    await db.query('DELETE FROM sandbox_state WHERE key = $1', [KEY]);
    this.cached = undefined;
  }

  /**
   * Takes one of the next-N failures of `part` when any are left (atomically: two processes never take
   * the same one). True when this call is one of them.
   */
  async take(part: 'sms' | 'composition_jobs'): Promise<boolean> {
    if ((await this.current())[part].fail_next <= 0) return false;
    const r = await this.db.query<{ value: FaultsState }>(
      `UPDATE sandbox_state
          SET value = jsonb_set(value, ARRAY[$2::text, 'fail_next'], to_jsonb((value->$2->>'fail_next')::int - 1))
        WHERE key = $1 AND (value->$2->>'fail_next')::int > 0
      RETURNING value`,
      [KEY, part],
    );
    this.cached = undefined;
    return r.rowCount > 0;
  }
}

function merge(
  base: FaultsState,
  patch: { sms?: Partial<FaultsState['sms']>; composition_jobs?: Partial<FaultsState['composition_jobs']> },
) {
  return {
    sms: { ...base.sms, ...(patch.sms ?? {}) },
    composition_jobs: { ...base.composition_jobs, ...(patch.composition_jobs ?? {}) },
  };
}

export const FAULTS = serviceKey('sandbox faults', (platform) => new Faults(platform.db));
