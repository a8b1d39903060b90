/**
 * The sandbox console (/console): server-rendered pages over the sandbox — the SMS inbox, composition
 * jobs, compositions and their relatesTo links, ERLN (tasks, records, calls), faults, the request
 * journal, reset, and the demo credentials. Registered only when the admin API is on (ADMIN_KEY); a
 * login with the admin key opens a cookie session (session.ts). Pages read through the stores; every
 * action that the admin API has goes through it (app.inject with the admin key), so a form checks and
 * answers exactly as the API does. Not API: the routes are hidden from /openapi.json. See docs/console.md.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Type } from 'typebox';
import { Eta } from 'eta';
import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Platform, RoutesPlugin } from '../../platform/platform.ts';
import { SCHEMA } from '../../platform/migrate.ts';
import { serviceKey } from '../../platform/services.ts';
import { EsozError, accessDenied, forbidden, notFound, type InvalidEntry } from '../../platform/errors.ts';
import { baseUrl, toEsozError } from '../../platform/http/envelope.ts';
import { FAULTS } from '../../platform/faults.ts';
import { journalEnabled, requestJournalKey } from '../../platform/http/journal.ts';
import { TASK_ERRORS } from '../../compositions/model.ts';
import { SIM_MODES } from '../../erln/simulator.ts';
import { simView } from '../../erln/sim-controls.ts';
import { simulatorOf } from '../../erln/capability.ts';
import { deleteSmsById, getState, smsById, smsPage } from '../sandbox-store.ts';
import { DEMO } from '../demo-data.ts';
import { recentCompositions, recentErlnTasks, recentJobs } from '../console-store.ts';
import { endSession, hasSession, isAdminKey, isSameOrigin, sessionSecret, startSession } from './session.ts';

const DIR = path.join(SCHEMA.root, 'src', 'sandbox', 'console');

/** The console's templates: one engine per runtime, compiled once, every value escaped. */
export const CONSOLE_TEMPLATES = serviceKey('sandbox.consoleTemplates', () => new Eta({ views: DIR, autoEscape: true, cache: true }));

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  // not no-referrer: with it a browser posts forms with `Origin: null`, and the CSRF guard reads the Origin
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

const NAV = [
  { href: '/console', label: 'Overview' },
  { href: '/console/sms', label: 'SMS inbox' },
  { href: '/console/jobs', label: 'Composition jobs' },
  { href: '/console/compositions', label: 'Compositions' },
  { href: '/console/erln', label: 'ERLN' },
  { href: '/console/faults', label: 'Faults' },
  { href: '/console/requests', label: 'Request journal' },
  { href: '/console/reset', label: 'Reset' },
];

const SMS_STATUSES = ['NEW', 'SENT', 'FAILED'];
const JOB_STATUSES = ['PENDING', 'DONE', 'FAILED'];
const SMS_MODES = ['ok', 'down', 'slow'];

const Text = (maxLength: number) => Type.Optional(Type.String({ maxLength }));
const Uuid = Type.String({ format: 'uuid' });

const SmsQuery = Type.Object(
  {
    phone_number: Text(32),
    entity_id: Text(64),
    entity_name: Text(64),
    status: Text(32),
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    notice: Text(200),
  },
  { additionalProperties: false },
);
const SmsFilterForm = Type.Object(
  { phone_number: Text(32), entity_id: Text(64), entity_name: Text(64), status: Text(32) },
  { additionalProperties: false },
);
const NoticeQuery = Type.Object({ notice: Text(200) }, { additionalProperties: false });
const JobsQuery = Type.Object({ status: Text(16) }, { additionalProperties: false });
const JournalQuery = Type.Object(
  { method: Text(10), status: Text(3), path: Text(500), error_type: Text(64), notice: Text(200) },
  { additionalProperties: false },
);
const LoginForm = Type.Object({ admin_key: Type.String({ maxLength: 500 }) }, { additionalProperties: false });
const EmptyForm = Type.Object({}, { additionalProperties: false });
const SmsFaultForm = Type.Object({ mode: Text(16), delay_ms: Text(12), fail_next: Text(12) }, { additionalProperties: false });
const JobsFaultForm = Type.Object(
  { delay_ms: Text(12), fail_next: Text(12), error_type: Text(64), message: Text(1000) },
  { additionalProperties: false },
);
const ErlnFaultForm = Type.Object(
  { mode: Text(16), reject_code: Text(12), reject_message: Text(500), delay_ms: Text(12), fail_next: Text(12) },
  { additionalProperties: false },
);
const ResetForm = Type.Object({ demo: Text(5), confirm: Text(5) }, { additionalProperties: false });

/** Form fields are text: an empty one is "not given", digits are a number; anything else goes to the API as typed (its 422 names it). */
function formValue(v: string | undefined): string | number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  return /^-?\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : v;
}
function formPatch(fields: Record<string, string | undefined>, keep: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    const value = keep.includes(k) ? (v === undefined || v === '' ? undefined : v) : formValue(v);
    if (value !== undefined) out[k] = value;
  }
  return out;
}
/** The filters of a form or query that are given (empty fields are no filter). */
function given<T extends Record<string, unknown>>(o: T, keys: (keyof T)[]): Partial<Record<keyof T, string>> {
  const out: Partial<Record<keyof T, string>> = {};
  for (const k of keys) if (typeof o[k] === 'string' && o[k] !== '') out[k] = o[k];
  return out;
}
const queryString = (o: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};

const iso = (v: Date | string | null | undefined): string | null => (v === null || v === undefined ? null : new Date(v).toISOString());
/** A timestamp as a reader scans it: date and time to the second, UTC. */
const shown = (v: Date | string | null | undefined) => {
  const s = iso(v);
  return s ? `${s.slice(0, 10)} ${s.slice(11, 19)} UTC` : '';
};

/** An error of an admin route answered to an injected call, as the console shows it. */
class AdminAnswer extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly invalid: InvalidEntry[] | undefined,
  ) {
    super(message);
  }
}

export const consoleRoutes: RoutesPlugin = async (app, { platform }) => {
  const { db, config } = platform;
  const templates = platform.services.get(CONSOLE_TEMPLATES);
  const assets = {
    css: readFileSync(path.join(DIR, 'console.css'), 'utf8'),
    js: readFileSync(path.join(DIR, 'console.js'), 'utf8'),
  };

  await app.register(cookie, { secret: sessionSecret(config.ADMIN_KEY), hook: 'onRequest' });
  // HTML forms post urlencoded fields (the API's parser reads JSON only); repeated fields: the last wins
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(typeof body === 'string' ? body : body.toString('utf8'))));
  });

  // a POST with no fields at all (a client that sends no body) is an empty form
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && (request.body === undefined || request.body === null)) request.body = {};
  });

  const page = (request: FastifyRequest, reply: FastifyReply, view: string, title: string, data: object = {}, status = 200) => {
    const current = request.url.split('?')[0];
    const html = templates.render(view, {
      title,
      nav: hasSession(request) ? NAV.map((n) => ({ ...n, current: n.href === current })) : null,
      ...data,
    });
    return reply.code(status).type('text/html; charset=utf-8').headers(PAGE_HEADERS).send(html);
  };

  // Before the request is parsed or validated (an invalid query without a session is still sent to the login):
  // 1. a POST comes from a page of this server (CSRF) → 403;  2. a session, except for the login → GET: to the login page, POST: 401
  app.addHook('onRequest', async (request, reply) => {
    const open = request.routeOptions.config.consoleOpen === true;
    if (request.method === 'POST' && !isSameOrigin(request, config.PUBLIC_URL)) {
      throw forbidden('The form was not posted from a page of this console (Origin check)');
    }
    if (open || hasSession(request)) return;
    if (request.method === 'GET') return reply.redirect('/console/login', 303);
    throw accessDenied('Log in to the console first');
  });

  app.setErrorHandler((err, request, reply) => {
    const e: AdminAnswer | EsozError = err instanceof AdminAnswer ? err : toEsozError(err, request);
    const { status } = e;
    if (status >= 500) request.log.error({ err }, 'console request failed');
    else request.log.info({ status }, 'console request rejected');
    return page(
      request,
      reply,
      'error',
      status === 401 ? 'Not logged in' : `Error ${status}`,
      {
        status,
        message: e.message,
        invalid: e.invalid ?? null,
        loggedIn: hasSession(request),
      },
      status,
    );
  });

  /** Calls an admin route with the admin key; its error answer becomes the console's error page. */
  const adminCall = async (method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown) => {
    const r = await app.inject({
      method,
      url,
      headers: { 'x-admin-key': config.ADMIN_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = r.json() as { data?: unknown; error?: { message: string; invalid?: InvalidEntry[] } };
    if (r.statusCode >= 400) throw new AdminAnswer(r.statusCode, answer.error?.message ?? `HTTP ${r.statusCode}`, answer.error?.invalid);
    return answer.data;
  };

  const hidden = { hide: true };
  const open = { consoleOpen: true };

  app.get('/console.css', { config: open, schema: hidden }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(assets.css),
  );
  app.get('/console.js', { config: open, schema: hidden }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(assets.js),
  );

  // --- login ---------------------------------------------------------------------------------------
  app.get('/login', { config: open, schema: hidden }, async (request, reply) => {
    if (hasSession(request)) return reply.redirect('/console', 303);
    return page(request, reply, 'login', 'Log in');
  });
  app.post('/login', { config: open, schema: { ...hidden, body: LoginForm } }, async (request, reply) => {
    if (!isAdminKey(request.body.admin_key, config.ADMIN_KEY)) {
      request.log.info('console login refused');
      return page(request, reply, 'login', 'Log in', { failed: true }, 401);
    }
    startSession(request, reply);
    return reply.redirect('/console', 303);
  });
  app.post('/logout', { config: open, schema: { ...hidden, body: EmptyForm } }, async (request, reply) => {
    endSession(request, reply);
    return reply.redirect('/console/login', 303);
  });

  // --- overview: credentials and curl lines --------------------------------------------------------
  app.get('/', { schema: { ...hidden, querystring: NoticeQuery } }, async (request, reply) => {
    const creds = await getState<{ clientId: string; secret: string; token: string }>(db, 'demo_credentials');
    const url = baseUrl(request);
    const demo = creds
      ? {
          ...creds,
          exportLine: `export BASE_URL=${url} TOKEN=${creds.token} API_KEY=${creds.secret} ADMIN_KEY=${config.ADMIN_KEY}`,
        }
      : null;
    return page(request, reply, 'overview', 'Overview', { demo, demoIds: DEMO, url, notice: request.query.notice ?? null });
  });

  // --- SMS inbox -----------------------------------------------------------------------------------
  const PAGE_SIZE = 50;
  app.get('/sms', { schema: { ...hidden, querystring: SmsQuery } }, async (request, reply) => {
    const filter = given(request.query, ['phone_number', 'entity_id', 'entity_name', 'status']);
    const pageNo = request.query.page ?? 1;
    const { total, rows } = await smsPage(db, filter, pageNo, PAGE_SIZE);
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    return page(request, reply, 'sms', 'SMS inbox', {
      filter,
      filterQuery: queryString(filter),
      statuses: SMS_STATUSES,
      total,
      messages: rows.map((m) => ({ ...m, at: shown(m.inserted_at), atIso: iso(m.inserted_at), sent: shown(m.sent_at) })),
      prev: pageNo > 1 ? `/console/sms${queryString({ ...filter, page: pageNo - 1 })}` : null,
      next: pageNo < pages ? `/console/sms${queryString({ ...filter, page: pageNo + 1 })}` : null,
      pageNo,
      pages,
      notice: request.query.notice ?? null,
    });
  });
  app.get('/sms/:id', { schema: { ...hidden, params: Type.Object({ id: Uuid }) } }, async (request, reply) => {
    const m = await smsById(db, request.params.id);
    if (!m) throw notFound('SMS not found (deleted, or the sandbox was reset)');
    return page(request, reply, 'sms-one', `SMS to ${m.phone_number}`, {
      m: { ...m, at: shown(m.inserted_at), sent: shown(m.sent_at) },
    });
  });
  app.post('/sms/:id/delete', { schema: { ...hidden, params: Type.Object({ id: Uuid }), body: EmptyForm } }, async (request, reply) => {
    const deleted = await deleteSmsById(db, request.params.id);
    return reply.redirect(`/console/sms${queryString({ notice: deleted ? 'The SMS was deleted' : 'The SMS was already gone' })}`, 303);
  });
  app.post('/sms/delete', { schema: { ...hidden, body: SmsFilterForm } }, async (request, reply) => {
    const filter = given(request.body, ['phone_number', 'entity_id', 'entity_name', 'status']);
    const data = (await adminCall('DELETE', `/admin/sms${queryString(filter)}`)) as { deleted: number };
    return reply.redirect(`/console/sms${queryString({ ...filter, notice: `Deleted ${data.deleted} SMS` })}`, 303);
  });

  // --- composition jobs ----------------------------------------------------------------------------
  app.get('/jobs', { schema: { ...hidden, querystring: JobsQuery } }, async (request, reply) => {
    const status = JOB_STATUSES.includes(request.query.status ?? '') ? request.query.status : undefined;
    const jobs = (await recentJobs(db, status)).map((j) => {
      const eta = iso(j.first_eta);
      const finished = iso(j.finished_at);
      const late = eta && finished ? (Date.parse(finished) - Date.parse(eta)) / 1000 : null;
      return {
        ...j,
        inserted: shown(j.inserted_at),
        eta: shown(j.first_eta),
        finished: shown(j.finished_at),
        late: late === null ? null : `${late > 0 ? '+' : late < 0 ? '−' : ''}${Math.abs(late).toFixed(1)} s`,
        lateWord: late === null ? null : late > 0 ? 'after the eta' : 'before the eta',
        error: j.error ? { type: String(j.error.type ?? ''), code: j.error.code ?? null, message: String(j.error.message ?? '') } : null,
      };
    });
    return page(request, reply, 'jobs', 'Composition jobs', { jobs, status: status ?? '', statuses: JOB_STATUSES });
  });

  // --- compositions and their relatesTo links -------------------------------------------------------
  app.get('/compositions', { schema: hidden }, async (request, reply) => {
    const rows = await recentCompositions(db);
    const compositions = rows.map((c) => ({
      id: c.id,
      title: c.title,
      type: c.type_code,
      category: c.category_code,
      status: c.status,
      created: shown(c.inserted_at),
      relatesTo: c.relates_to,
      relatedFrom: c.related_from,
    }));
    return page(request, reply, 'compositions', 'Compositions', { compositions });
  });

  // --- ERLN -----------------------------------------------------------------------------------------
  const erlnOf = async () => {
    if (config.ERLN_ADAPTER === 'http') return null;
    const view = await simView(simulatorOf(platform).store);
    return {
      ...view,
      records: view.records.map((r) => ({ ...r, created: shown(r.created_at), cancelled: shown(r.cancelled_at) })),
      calls: view.calls.map((c) => ({ ...c, when: shown(c.at) })),
    };
  };
  app.get('/erln', { schema: { ...hidden, querystring: NoticeQuery } }, async (request, reply) => {
    const tasks = (await recentErlnTasks(db)).map((t) => ({ ...t, updated: shown(t.updated_at) }));
    return page(request, reply, 'erln', 'ERLN', { erln: await erlnOf(), tasks, modes: SIM_MODES, notice: request.query.notice ?? null });
  });

  // --- faults -----------------------------------------------------------------------------------------
  app.get('/faults', { schema: { ...hidden, querystring: NoticeQuery } }, async (request, reply) => {
    const own = await platform.services.get(FAULTS).current();
    return page(request, reply, 'faults', 'Faults', {
      sms: own.sms,
      jobs: own.composition_jobs,
      erln: await erlnOf(),
      smsModes: SMS_MODES,
      modes: SIM_MODES,
      taskErrors: Object.keys(TASK_ERRORS),
      notice: request.query.notice ?? null,
    });
  });
  app.post('/faults/sms', { schema: { ...hidden, body: SmsFaultForm } }, async (request, reply) => {
    await adminCall('PUT', '/admin/faults', { sms: formPatch(request.body, ['mode']) });
    return reply.redirect(`/console/faults${queryString({ notice: 'SMS gateway faults saved' })}`, 303);
  });
  app.post('/faults/composition_jobs', { schema: { ...hidden, body: JobsFaultForm } }, async (request, reply) => {
    await adminCall('PUT', '/admin/faults', { composition_jobs: formPatch(request.body, ['error_type', 'message']) });
    return reply.redirect(`/console/faults${queryString({ notice: 'Composition job faults saved' })}`, 303);
  });
  app.post(
    '/faults/erln',
    { schema: { ...hidden, body: ErlnFaultForm, querystring: Type.Object({ back: Text(16) }, { additionalProperties: false }) } },
    async (request, reply) => {
      const { reject_code: code, ...rest } = request.body;
      const patch = formPatch(rest, ['mode', 'reject_message']);
      // the rejection code field: empty = ERLN's code is unknown (null); absent = unchanged
      if (code !== undefined) patch.reject_code = code.trim() === '' ? null : formValue(code);
      await adminCall('PUT', '/admin/faults', { erln: patch });
      const back = request.query.back === 'erln' ? '/console/erln' : '/console/faults';
      return reply.redirect(`${back}${queryString({ notice: 'ERLN simulator faults saved' })}`, 303);
    },
  );

  // --- request journal ---------------------------------------------------------------------------------
  app.get('/requests', { schema: { ...hidden, querystring: JournalQuery } }, async (request, reply) => {
    const filter = given(request.query, ['method', 'status', 'path', 'error_type']);
    const on = journalEnabled(config);
    const status = filter.status && /^\d{3}$/.test(filter.status) ? Number(filter.status) : undefined;
    const entries = on
      ? platform.services
          .get(requestJournalKey)
          .list({ method: filter.method, status, path: filter.path, error_type: filter.error_type, limit: 200 })
          .map((e) => ({
            ...e,
            when: shown(e.at),
            requestJson: e.request_body === null ? null : JSON.stringify(e.request_body, null, 2),
            responseJson: e.response_body === null ? null : JSON.stringify(e.response_body, null, 2),
          }))
      : [];
    return page(request, reply, 'requests', 'Request journal', { on, filter, entries, notice: request.query.notice ?? null });
  });
  app.post('/requests/clear', { schema: { ...hidden, body: EmptyForm } }, async (_request, reply) => {
    await adminCall('DELETE', '/admin/requests');
    return reply.redirect(`/console/requests${queryString({ notice: 'The journal was emptied' })}`, 303);
  });

  // --- reset (a confirmation page, then the POST) ----------------------------------------------------------
  app.get('/reset', { schema: hidden }, async (request, reply) => page(request, reply, 'reset', 'Reset the sandbox'));
  app.post('/reset', { schema: { ...hidden, body: ResetForm } }, async (request, reply) => {
    // the POST of the confirmation page carries confirm=yes; anything else shows the page again
    if (request.body.confirm !== 'yes') return page(request, reply, 'reset', 'Reset the sandbox', { unconfirmed: true }, 400);
    const demo = request.body.demo !== 'false';
    await adminCall('POST', '/admin/reset', { demo });
    const notice = demo ? 'The sandbox is back to its demo state' : 'The sandbox is empty (clients and tokens kept)';
    return reply.redirect(`/console${queryString({ notice })}`, 303);
  });
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A console route open without a session (login, style sheet, script). */
    consoleOpen?: boolean;
  }
}

/** Whether this runtime has a console: the admin API is on. */
export const consoleEnabled = (platform: Platform) => platform.config.ADMIN_KEY !== '';
