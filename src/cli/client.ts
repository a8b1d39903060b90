/**
 * How the `esoz` commands talk to a running esoz-core: the sandbox admin API over HTTP, with the admin key.
 * Every failure becomes a `CliError` whose message says what to do; the entry point (esoz.ts) prints it as
 * one line and exits with its code. No command reaches the database: the CLI works against any esoz-core
 * it can reach, embedded or not, on this machine or another.
 */
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';

/** Exit codes of `esoz` (docs/cli.md). */
export const EXIT = {
  /** esoz-core answered, and refused (4xx/5xx, a wrong admin key) */
  refused: 1,
  /** the command line or a file it names is wrong: nothing was sent */
  usage: 2,
  /** no esoz-core answered at the URL */
  unreachable: 3,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** lines printed after the message (the invalid entries of a 422) */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const DEFAULT_URL = 'http://localhost:4000';

function parseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL (e.g. ${DEFAULT_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${value}" is not an http(s) URL`);
  return value.replace(/\/+$/, '');
}

/** `--url` (BASE_URL), as the banner of `esoz start` exports it. */
export const urlOption = () => new Option('--url <url>', 'where esoz-core runs').env('BASE_URL').default(DEFAULT_URL).argParser(parseUrl);

/** `--admin-key` (ADMIN_KEY), as the banner of `esoz start` exports it. */
export const adminKeyOption = () =>
  new Option('--admin-key <key>', 'the sandbox admin key (`esoz start` prints it as "admin key (x-admin-key)")').env('ADMIN_KEY');

const SET_ADMIN_KEY = 'set ADMIN_KEY (or --admin-key) to the "admin key (x-admin-key)" that `esoz start` prints';

interface InvalidEntry {
  entry?: string;
  rules?: { rule?: string; description?: string }[];
}

/** One line per invalid entry of a 422: where, what is wrong, the rule. */
export function invalidLines(invalid: InvalidEntry[]): string[] {
  return invalid.flatMap((e) =>
    (e.rules?.length ? e.rules : [{}]).map((r) => `  ${e.entry ?? '$'}: ${r.description ?? 'invalid'}${r.rule ? ` (${r.rule})` : ''}`),
  );
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface AdminCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** what the user asked for, as the start of an error line ("loading the fixtures of a.json") */
  action: string;
  timeoutMs?: number;
}

/** The sandbox admin API of one esoz-core. */
export class AdminClient {
  readonly url: string;
  private readonly adminKey: string;

  constructor(opts: { url: string; adminKey?: string }) {
    // refused before anything is sent: the server would only answer 401 without saying which variable is missing
    if (!opts.adminKey) throw new CliError(`no admin key: ${SET_ADMIN_KEY}`, EXIT.usage);
    this.url = opts.url;
    this.adminKey = opts.adminKey;
  }

  /** The `data` of the answer; every other outcome is a CliError. */
  async call<T>(c: AdminCall): Promise<T> {
    const timeoutMs = c.timeoutMs ?? 30_000;
    let res: Response;
    try {
      res = await fetch(this.url + c.path, {
        method: c.method,
        headers: { 'x-admin-key': this.adminKey, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: c.body === undefined ? undefined : JSON.stringify(c.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') {
        throw new CliError(
          `${c.action} failed: esoz-core at ${this.url} did not answer within ${timeoutMs / 1000} s: look at its output, then try again`,
          EXIT.unreachable,
        );
      }
      // fetch says "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`
      const cause = err instanceof Error && isRecord(err.cause) ? err.cause : {};
      const reason = String(cause.code ?? cause.message ?? (err instanceof Error ? err.message : err));
      throw new CliError(
        `cannot reach esoz-core at ${this.url} (${reason}): start it with \`esoz start\` or set BASE_URL (or --url)`,
        EXIT.unreachable,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const error = isRecord(json) && isRecord(json.error) ? json.error : undefined;
    if (res.ok && isRecord(json) && 'data' in json) return json.data as T;
    if (!error) {
      throw new CliError(
        `${c.action} failed: ${this.url} answered ${c.method} ${c.path} with ${res.status} but not as esoz-core does: is BASE_URL (or --url) the esoz-core server?`,
        EXIT.refused,
      );
    }
    const type = String(error.type ?? '');
    const message = String(error.message ?? '');
    if (res.status === 401) {
      throw new CliError(`esoz-core at ${this.url} refused the admin key (401 ${message}): ${SET_ADMIN_KEY}`, EXIT.refused);
    }
    if (Array.isArray(error.invalid) && error.invalid.length) {
      const n = error.invalid.length;
      throw new CliError(
        `${c.action} failed: ${res.status} ${type}, ${n} invalid ${n === 1 ? 'entry' : 'entries'}:`,
        EXIT.refused,
        invalidLines(error.invalid.filter(isRecord)),
      );
    }
    throw new CliError(`${c.action} failed: ${res.status} ${type}: ${message}`, EXIT.refused);
  }
}
