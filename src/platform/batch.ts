/**
 * Coalescing concurrent calls of a hot statement into one statement (DataLoader, with "smart
 * batching" scheduling): when no batch of the statement is running, a call goes out at once (after
 * the requests already read from the sockets in this turn of the event loop joined it), so an idle
 * service answers with no added wait; while `maxInFlight` batches are running, new calls wait and
 * leave together as soon as one of them ends. Under load a batch therefore carries every call that
 * arrived while the previous one ran, and the per-statement cost — PGlite's protocol round trips, a
 * PostgreSQL round trip and, for writes, a commit with its WAL flush — is paid once per batch
 * instead of once per request. Each call still gets its own result (or its own error).
 *
 * The batched statement must give each item exactly the answer it would give alone: items are
 * independent, or (writes) the SQL serialises them itself (see esoz_sms_attempt_many).
 */
import DataLoader from 'dataloader';
import { handleKey, type Db } from './db.ts';
import { jsonValue } from './json.ts';

/**
 * Batches of one statement running at once: PGlite runs one statement at a time, so one batch (the
 * next one gathers meanwhile); PostgreSQL serves several connections on its own cores.
 */
export function batchesInFlight(db: Db): number {
  return db.engine === 'pglite' ? 1 : 4;
}

export interface StatementBatcherOptions {
  /** Batches of this statement running at once (PGlite runs one statement at a time anyway: 1). */
  maxInFlight: number;
  /** Items per statement at most. */
  maxBatchSize?: number;
}

export interface StatementBatcher<I, O> {
  /** Run `item` in the next batch; resolves with its own result. */
  run(item: I): Promise<O>;
}

export function statementBatcher<I, O>(
  batchFn: (items: readonly I[]) => Promise<readonly (O | Error)[]>,
  opts: StatementBatcherOptions,
): StatementBatcher<I, O> {
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const loader = new DataLoader<I, O, I>(
    async (items) => {
      inFlight++;
      try {
        return await batchFn(items);
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    },
    {
      cache: false,
      maxBatchSize: opts.maxBatchSize ?? 200,
      // called once per new batch, at its first item: dispatch when a slot is free, after this turn's
      // I/O callbacks (so requests parsed together leave together); otherwise when a running batch ends
      batchScheduleFn: (dispatch) => {
        if (inFlight < opts.maxInFlight) setImmediate(dispatch);
        else waiting.push(dispatch);
      },
    },
  );
  return { run: (item) => loader.load(item) };
}

/** The batchers of one database handle, by function name. */
const JSON_FUNCTION_BATCHERS = handleKey('json function batchers', () => new Map<string, StatementBatcher<unknown, unknown>>());

/**
 * The batcher of a hot statement written as `fn(items json) → json array` (one result per item, in
 * the items' order: esoz_medication_request_read_many, esoz_sms_attempt_many,
 * esoz_composition_refs_many, …), one per database handle and function (held by the handle), so every
 * caller on that pool shares its batches.
 */
export function jsonFunctionBatcher<I, O>(db: Db, fn: string): StatementBatcher<I, O> {
  const byFn = db.state.get(JSON_FUNCTION_BATCHERS);
  let batcher = byFn.get(fn);
  if (!batcher) {
    const sql = `SELECT ${fn}($1::json) AS r`;
    batcher = statementBatcher<unknown, unknown>(
      async (items) => {
        const { rows } = await db.query<{ r: unknown[] | string }>(sql, [JSON.stringify(items)]);
        return jsonValue(rows[0].r);
      },
      { maxInFlight: batchesInFlight(db) },
    );
    byFn.set(fn, batcher);
  }
  return batcher as StatementBatcher<I, O>;
}
