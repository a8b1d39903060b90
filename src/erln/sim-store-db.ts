/**
 * The in-process simulator's state in the database (tables in migrations/050_erln.sql): it survives
 * a restart and a killed worker, and every process of one deployment sees the same ERLN. Each
 * apply* is one transaction holding the idempotency key's row, so two calls with one key make one
 * record.
 */
import type { Db } from '../platform/db.ts';
import type { ErlnCancelRequest, ErlnCreateRequest, ErlnReply } from './contract.ts';
import {
  DEFAULT_SIM_SETTINGS,
  SIM_CALLS_KEPT,
  SL_ALREADY_CANCELLED_MESSAGE,
  SL_CANCELLED_MESSAGE,
  SL_NOT_FOUND_MESSAGE,
  createdReply,
  rejection,
  slNumber,
  type ErlnSimStore,
  type SimCall,
  type SimRecord,
  type SimSettings,
} from './simulator.ts';

type Applied = { reply: ErlnReply; replayed: boolean };

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));

export class DbErlnSimStore implements ErlnSimStore {
  constructor(private readonly db: Db) {}

  async settings(): Promise<SimSettings> {
    const r = await this.db.query<SimSettings>('SELECT mode, reject_code, reject_message, delay_ms, fail_next FROM erln_sim_settings');
    return r.rows[0] ?? { ...DEFAULT_SIM_SETTINGS };
  }

  setSettings(s: SimSettings): Promise<void> {
    return this.writeSettings(this.db, s);
  }

  private async writeSettings(db: Db, s: SimSettings): Promise<void> {
    await db.query(
      `INSERT INTO erln_sim_settings (id, mode, reject_code, reject_message, delay_ms, fail_next) VALUES (true, $1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET mode = $1, reject_code = $2, reject_message = $3, delay_ms = $4, fail_next = $5`,
      [s.mode, s.reject_code, s.reject_message, s.delay_ms, s.fail_next],
    );
  }

  async takeFailure(): Promise<boolean> {
    const r = await this.db.query('UPDATE erln_sim_settings SET fail_next = fail_next - 1 WHERE fail_next > 0 RETURNING fail_next');
    return r.rows.length > 0;
  }

  async replay(key: string): Promise<ErlnReply | undefined> {
    const r = await this.db.query<{ reply: ErlnReply }>('SELECT reply FROM erln_sim_replies WHERE idempotency_key = $1', [key]);
    return r.rows[0]?.reply;
  }

  /** Takes the key's row first: a concurrent call with the same key waits here, then replays. */
  private claimKey(tx: Db, key: string): Promise<ErlnReply | undefined> {
    return tx
      .query<{ reply: ErlnReply; fresh: boolean }>(
        `INSERT INTO erln_sim_replies (idempotency_key, reply) VALUES ($1, 'null'::jsonb)
         ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
         RETURNING reply, (xmax = 0) AS fresh`,
        [key],
      )
      .then((r) => (r.rows[0]?.fresh ? undefined : (r.rows[0]?.reply ?? undefined)));
  }

  private async keep(tx: Db, key: string, reply: ErlnReply): Promise<void> {
    await tx.query('UPDATE erln_sim_replies SET reply = $2 WHERE idempotency_key = $1', [key, JSON.stringify(reply)]);
  }

  private async forget(tx: Db, key: string): Promise<void> {
    await tx.query('DELETE FROM erln_sim_replies WHERE idempotency_key = $1', [key]);
  }

  applyCreate(key: string, req: ErlnCreateRequest): Promise<Applied> {
    return this.db.transaction(async (tx) => {
      const earlier = await this.claimKey(tx, key);
      if (earlier) return { reply: earlier, replayed: true };
      const n = await tx.query<{ n: number }>("SELECT nextval('erln_sim_sl_seq')::int AS n");
      const sl = slNumber(Number(n.rows[0]?.n));
      await tx.query(
        `INSERT INTO erln_sim_records (sl_num, composition_id, request_type, previous_sl_num, category, period_start, period_end, person_id, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'created')`,
        [
          sl,
          req.COMPOSITION_ID,
          req.REQUEST_TYPE,
          req.PREVIOUS_SL_NUM,
          req.CATEGORY,
          req.PERIOD_START,
          req.PERIOD_END,
          req.PATIENT.PERSON_ID,
        ],
      );
      const reply = createdReply(sl);
      await this.keep(tx, key, reply);
      return { reply, replayed: false };
    });
  }

  applyCancel(key: string, req: ErlnCancelRequest): Promise<Applied> {
    return this.db.transaction(async (tx) => {
      const earlier = await this.claimKey(tx, key);
      if (earlier) return { reply: earlier, replayed: true };
      const r = await tx.query<{ status: string }>('SELECT status FROM erln_sim_records WHERE sl_num = $1 FOR UPDATE', [req.SL_NUM]);
      const status = r.rows[0]?.status;
      if (status !== 'created') {
        // a rejection changes nothing, so it is not kept: a later call is judged anew
        await this.forget(tx, key);
        return { reply: rejection(status ? SL_ALREADY_CANCELLED_MESSAGE : SL_NOT_FOUND_MESSAGE), replayed: false };
      }
      await tx.query(
        `UPDATE erln_sim_records SET status = 'cancelled', cancelled_at = clock_timestamp(), cancel_reason = $2 WHERE sl_num = $1`,
        [req.SL_NUM, req.CANCEL_REASON],
      );
      const reply: ErlnReply = { ACCEPTED: true, RESULT: null, MESSAGE: SL_CANCELLED_MESSAGE, SL_NUM: req.SL_NUM };
      await this.keep(tx, key, reply);
      return { reply, replayed: false };
    });
  }

  async logCall(c: SimCall): Promise<void> {
    await this.db.query(
      `INSERT INTO erln_sim_calls (at, operation, composition_id, idempotency_key, outcome, result, sl_num) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [c.at, c.operation, c.composition_id, c.idempotency_key, c.outcome, c.result, c.sl_num],
    );
    // the log keeps the last SIM_CALLS_KEPT calls; trimming now and then is enough
    if (Math.random() < 0.1) {
      await this.db.query('DELETE FROM erln_sim_calls WHERE id <= (SELECT max(id) FROM erln_sim_calls) - $1', [SIM_CALLS_KEPT]);
    }
  }

  async records(): Promise<SimRecord[]> {
    // dates as text: node-postgres reads a `date` as local midnight, which toISOString moves to the day before east of UTC
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT sl_num, composition_id, request_type, previous_sl_num, category, period_start::text AS period_start,
              period_end::text AS period_end, person_id, status, created_at, cancelled_at, cancel_reason
         FROM erln_sim_records ORDER BY created_at DESC, sl_num DESC`,
    );
    return r.rows.map((x) => ({
      sl_num: String(x.sl_num),
      composition_id: String(x.composition_id),
      request_type: Number(x.request_type),
      previous_sl_num: x.previous_sl_num == null ? null : String(x.previous_sl_num),
      category: String(x.category),
      period_start: String(x.period_start),
      period_end: String(x.period_end),
      person_id: String(x.person_id),
      status: x.status === 'cancelled' ? 'cancelled' : 'created',
      created_at: iso(x.created_at) ?? '',
      cancelled_at: iso(x.cancelled_at),
      cancel_reason: x.cancel_reason == null ? null : String(x.cancel_reason),
    }));
  }

  async calls(): Promise<SimCall[]> {
    const r = await this.db.query<Record<string, unknown>>('SELECT * FROM erln_sim_calls ORDER BY id DESC LIMIT $1', [SIM_CALLS_KEPT]);
    return r.rows.map((x) => ({
      at: iso(x.at) ?? '',
      operation: x.operation === 'cancel' ? 'cancel' : 'create',
      composition_id: String(x.composition_id),
      idempotency_key: String(x.idempotency_key),
      outcome: String(x.outcome) as SimCall['outcome'],
      result: x.result == null ? null : Number(x.result),
      sl_num: x.sl_num == null ? null : String(x.sl_num),
    }));
  }

  async reset(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM erln_sim_records');
      await tx.query('DELETE FROM erln_sim_replies');
      await tx.query('DELETE FROM erln_sim_calls');
      await tx.query("SELECT setval('erln_sim_sl_seq', 1, false)");
      await this.writeSettings(tx, { ...DEFAULT_SIM_SETTINGS });
    });
  }
}
