/**
 * The ERLN simulator: the in-process adapter of the embedded sandbox and the server of
 * `npm run erln-sim`. It assigns SL numbers, keeps its records (created, cancelled) and its last
 * calls, answers a repeated idempotency key with the first answer (nothing is created twice), and
 * takes faults: `down` (no answer), `reject` (a business rejection with a chosen RESULT/message),
 * `slow` (answers after delay_ms), and `fail_next` (the next N calls get no answer, then the mode).
 * Where it keeps its state is a store: memory here, the database for the embedded sandbox
 * (sim-store-db.ts), so a worker killed mid-call finds ERLN's record when its task runs again.
 */
import {
  RESULT_CREATED,
  RESULT_CREATED_MESSAGE,
  RESULT_UNEXPECTED,
  RESULT_UNEXPECTED_MESSAGE,
  type ErlnCancelRequest,
  type ErlnCreateRequest,
  type ErlnReply,
} from './contract.ts';
import { Type, type Static } from 'typebox';
import { ErlnUnreachableError, type ErlnGateway } from './gateway.ts';

export const SIM_MODES = ['ok', 'down', 'reject', 'slow'] as const;
export type SimMode = (typeof SIM_MODES)[number];
export const SimModeSchema = Type.Enum(SIM_MODES, { type: 'string' });

// The shapes are TypeBox schemas because GET /admin/erln answers them (OpenAPI, the typed client).
export const SimSettings = Type.Object(
  {
    mode: SimModeSchema,
    reject_code: Type.Union([Type.Integer(), Type.Null()], { description: "RESULT of a rejection; null when ERLN's code is not known" }),
    reject_message: Type.String(),
    delay_ms: Type.Integer({ description: '`slow`: how long each answer takes' }),
    fail_next: Type.Integer({ description: 'The next N calls get no answer (then `mode` applies again)' }),
  },
  { additionalProperties: false, title: 'ErlnSimSettings' },
);
export type SimSettings = Static<typeof SimSettings>;

export const DEFAULT_SIM_SETTINGS: SimSettings = {
  mode: 'ok',
  reject_code: RESULT_UNEXPECTED,
  reject_message: RESULT_UNEXPECTED_MESSAGE,
  delay_ms: 0,
  fail_next: 0,
};

export const SimRecord = Type.Object(
  {
    sl_num: Type.String(),
    composition_id: Type.String(),
    request_type: Type.Integer({
      description: 'REQUEST_TYPE: 1 new, 2 continuation of the case, 3 shortening of the term, 4 new conclusion continuing a long illness',
    }),
    previous_sl_num: Type.Union([Type.String(), Type.Null()], {
      description: 'The SL number a continuation or a shortening refers to (PREVIOUS_SL_NUM)',
    }),
    category: Type.String(),
    period_start: Type.String(),
    period_end: Type.String(),
    person_id: Type.String(),
    status: Type.Union([Type.Literal('created'), Type.Literal('cancelled')]),
    created_at: Type.String(),
    cancelled_at: Type.Union([Type.String(), Type.Null()]),
    cancel_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false, title: 'ErlnSimRecord' },
);
export type SimRecord = Static<typeof SimRecord>;

export const SimCall = Type.Object(
  {
    at: Type.String(),
    operation: Type.Union([Type.Literal('create'), Type.Literal('cancel')]),
    composition_id: Type.String(),
    idempotency_key: Type.String(),
    outcome: Type.Union([Type.Literal('accepted'), Type.Literal('rejected'), Type.Literal('replayed'), Type.Literal('unavailable')]),
    result: Type.Union([Type.Integer(), Type.Null()]),
    sl_num: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false, title: 'ErlnSimCall' },
);
export type SimCall = Static<typeof SimCall>;
export type SimOutcome = SimCall['outcome'];

export const SIM_CALLS_KEPT = 100;
export const SL_NOT_FOUND_MESSAGE = 'ЕЛН не знайдено';
export const SL_ALREADY_CANCELLED_MESSAGE = 'ЕЛН вже скасовано';
export const SL_CANCELLED_MESSAGE = 'ЕЛН скасовано';

/** What the simulator keeps. Each apply* is atomic: one idempotency key, one effect. */
export interface ErlnSimStore {
  settings(): Promise<SimSettings>;
  setSettings(settings: SimSettings): Promise<void>;
  /** true (and fail_next decremented) when this call is one of the `fail_next` failures */
  takeFailure(): Promise<boolean>;
  /** The stored answer of an earlier accepted call with this key. */
  replay(idempotencyKey: string): Promise<ErlnReply | undefined>;
  /** Records the new SL record and its answer under the key; an answer already stored under it wins. */
  applyCreate(idempotencyKey: string, request: ErlnCreateRequest): Promise<{ reply: ErlnReply; replayed: boolean }>;
  applyCancel(idempotencyKey: string, request: ErlnCancelRequest): Promise<{ reply: ErlnReply; replayed: boolean }>;
  logCall(call: SimCall): Promise<void>;
  records(): Promise<SimRecord[]>;
  calls(): Promise<SimCall[]>;
  reset(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ErlnSimulator implements ErlnGateway {
  readonly name = 'simulator';
  constructor(readonly store: ErlnSimStore) {}

  createRecord(request: ErlnCreateRequest, idempotencyKey: string): Promise<ErlnReply> {
    return this.call('create', request.COMPOSITION_ID, idempotencyKey, () => this.store.applyCreate(idempotencyKey, request));
  }

  cancelRecord(request: ErlnCancelRequest, idempotencyKey: string): Promise<ErlnReply> {
    return this.call('cancel', request.COMPOSITION_ID, idempotencyKey, () => this.store.applyCancel(idempotencyKey, request));
  }

  private async call(
    operation: SimCall['operation'],
    compositionId: string,
    idempotencyKey: string,
    apply: () => Promise<{ reply: ErlnReply; replayed: boolean }>,
  ): Promise<ErlnReply> {
    const log = (outcome: SimOutcome, reply?: ErlnReply) =>
      this.store.logCall({
        at: new Date().toISOString(),
        operation,
        composition_id: compositionId,
        idempotency_key: idempotencyKey,
        outcome,
        result: reply?.RESULT ?? null,
        sl_num: reply?.SL_NUM ?? null,
      });
    const settings = await this.store.settings();
    if (settings.mode === 'down' || (await this.store.takeFailure())) {
      await log('unavailable');
      throw new ErlnUnreachableError('ERLN is unavailable');
    }
    if (settings.mode === 'slow' && settings.delay_ms > 0) await sleep(settings.delay_ms);
    // a repeated key gets the first answer whatever the mode is now: ERLN already holds the record
    const earlier = await this.store.replay(idempotencyKey);
    if (earlier) {
      await log('replayed', earlier);
      return earlier;
    }
    if (settings.mode === 'reject') {
      const reply: ErlnReply = { ACCEPTED: false, RESULT: settings.reject_code, MESSAGE: settings.reject_message, SL_NUM: null };
      await log('rejected', reply);
      return reply;
    }
    const { reply, replayed } = await apply();
    await log(replayed ? 'replayed' : reply.ACCEPTED ? 'accepted' : 'rejected', reply);
    return reply;
  }
}

/** The answer to a new record (RESULT 1101). */
export function createdReply(slNum: string): ErlnReply {
  return { ACCEPTED: true, RESULT: RESULT_CREATED, MESSAGE: RESULT_CREATED_MESSAGE, SL_NUM: slNum };
}

/** SL numbers of the simulator: "SL" and ten digits of a counter. */
export const slNumber = (n: number) => `SL${String(n).padStart(10, '0')}`;

/** The simulator's state in memory (`npm run erln-sim`, tests). */
export class MemoryErlnSimStore implements ErlnSimStore {
  private current: SimSettings = { ...DEFAULT_SIM_SETTINGS };
  private readonly byKey = new Map<string, ErlnReply>();
  private readonly bySl = new Map<string, SimRecord>();
  private log: SimCall[] = [];
  private counter = 0;

  async settings() {
    return { ...this.current };
  }
  async setSettings(settings: SimSettings) {
    this.current = { ...settings };
  }
  async takeFailure() {
    if (this.current.fail_next <= 0) return false;
    this.current.fail_next--;
    return true;
  }
  async replay(key: string) {
    return this.byKey.get(key);
  }
  async applyCreate(key: string, request: ErlnCreateRequest) {
    const earlier = this.byKey.get(key);
    if (earlier) return { reply: earlier, replayed: true };
    const sl = slNumber(++this.counter);
    this.bySl.set(sl, {
      sl_num: sl,
      composition_id: request.COMPOSITION_ID,
      request_type: request.REQUEST_TYPE,
      previous_sl_num: request.PREVIOUS_SL_NUM,
      category: request.CATEGORY,
      period_start: request.PERIOD_START,
      period_end: request.PERIOD_END,
      person_id: request.PATIENT.PERSON_ID,
      status: 'created',
      created_at: new Date().toISOString(),
      cancelled_at: null,
      cancel_reason: null,
    });
    const reply = createdReply(sl);
    this.byKey.set(key, reply);
    return { reply, replayed: false };
  }
  async applyCancel(key: string, request: ErlnCancelRequest) {
    const earlier = this.byKey.get(key);
    if (earlier) return { reply: earlier, replayed: true };
    const record = this.bySl.get(request.SL_NUM);
    if (!record) return { reply: rejection(SL_NOT_FOUND_MESSAGE), replayed: false };
    if (record.status === 'cancelled') return { reply: rejection(SL_ALREADY_CANCELLED_MESSAGE), replayed: false };
    record.status = 'cancelled';
    record.cancelled_at = new Date().toISOString();
    record.cancel_reason = request.CANCEL_REASON;
    const reply: ErlnReply = { ACCEPTED: true, RESULT: null, MESSAGE: SL_CANCELLED_MESSAGE, SL_NUM: record.sl_num };
    this.byKey.set(key, reply);
    return { reply, replayed: false };
  }
  async logCall(call: SimCall) {
    this.log.push(call);
    if (this.log.length > SIM_CALLS_KEPT) this.log = this.log.slice(-SIM_CALLS_KEPT);
  }
  async records() {
    return [...this.bySl.values()].map((r) => ({ ...r }));
  }
  async calls() {
    return [...this.log].reverse();
  }
  async reset() {
    this.current = { ...DEFAULT_SIM_SETTINGS };
    this.byKey.clear();
    this.bySl.clear();
    this.log = [];
    this.counter = 0;
  }
}

/** A rejection whose ERLN code is not published. */
export const rejection = (message: string): ErlnReply => ({ ACCEPTED: false, RESULT: null, MESSAGE: message, SL_NUM: null });
