/**
 * All configuration comes from environment variables and is validated once at start.
 * A bad value refuses the start with the variable's name and the reason, so an operator
 * never finds out about a typo from a strange runtime error hours later.
 */
import { Ajv } from 'ajv';
import { Type, type Static } from 'typebox';

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });

export const ConfigSchema = Type.Object({
  PORT: Int(4000, 0, 65535, 'HTTP port'),
  HOST: Type.String({
    default: '',
    description: 'HTTP bind address; empty: 127.0.0.1 on the embedded database (it prints credentials), 0.0.0.0 on PostgreSQL',
  }),
  DATABASE_URL: Type.String({
    default: '',
    description: 'postgres://… for PostgreSQL, memory:// for in-memory PGlite, empty for PGlite in DATA_DIR',
  }),
  DATA_DIR: Type.String({ default: './.data', description: 'PGlite data directory (embedded mode)' }),
  PG_POOL_MAX: Int(10, 1, 200, 'pg pool size per process (PostgreSQL mode)'),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  PUBLIC_URL: Type.String({ default: '', description: 'Base URL used in meta.url and job links; derived from the request when empty' }),
  ADMIN_KEY: Type.String({ default: '', description: 'Enables /admin when set (embedded mode generates one)' }),
  CUSTOM_PSK: Type.String({ default: '', description: 'When set, X-Custom-PSK must equal it on /api requests' }),
  DEMO_DATA: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
    default: 'auto',
    description: 'Load demo data on first start: auto = embedded database only',
  }),
  WORKERS: Type.Union([Type.Literal('on'), Type.Literal('off')], {
    default: 'on',
    description: 'Run queue workers in the API process',
  }),
  REQUEST_TIMEOUT_SECONDS: Int(60, 1, 3600, 'A request (headers and body) must be received within this; then 408'),
  TOKEN_CACHE_SECONDS: Int(30, 0, 3600, 'How long a verified access token is cached in memory'),
  REQUEST_JOURNAL: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
    default: 'auto',
    description: 'Keep the last requests in memory for GET /admin/requests: auto = on the embedded sandbox only',
  }),
  REQUEST_JOURNAL_SIZE: Int(500, 1, 100000, 'Requests the journal keeps (per process)'),
  // ePrescription: SMS timeout procedure and template (seed 003)
  MR_MAX_ATTEMPTS_COUNT: Int(3, 1, 1000, 'Resend attempts allowed per medication request within MR_SEND_TIMEOUT'),
  MR_SEND_TIMEOUT: Int(300, 1, 86400 * 30, 'Sliding window for MR resend attempts, seconds'),
  TEMPLATE_SMS_FOR_SIGN_MEDICATION_REQUEST: Type.String({
    default: 'Ваш рецепт: <request_number>. Код підтвердження: <verification_code>',
  }),
  COMPOSITION_MAX_ATTEMPTS_COUNT: Int(3, 1, 1000, 'Resend attempts per composition within COMPOSITION_SEND_TIMEOUT'),
  COMPOSITION_SEND_TIMEOUT: Int(300, 1, 86400 * 30, 'Sliding window for composition SMS, seconds'),
  // SMS delivery
  SMS_PROVIDER: Type.Union([Type.Literal('log'), Type.Literal('http')], { default: 'log' }),
  SMS_GATEWAY_URL: Type.String({ default: '' }),
  SMS_GATEWAY_TIMEOUT_MS: Int(5000, 100, 120000, 'HTTP SMS gateway request timeout'),
  SMS_MAX_TRIES: Int(10, 1, 100, 'Delivery tries before an SMS is FAILED'),
  SMS_RETRY_DELAY_SECONDS: Int(2, 1, 3600, 'First retry delay (exponential backoff)'),
  // Compositions jobs
  JOB_RETENTION_DAYS: Int(7, 1, 3650, 'Finished composition jobs are deleted after this many days'),
  JOB_MAX_PENDING_SECONDS: Int(3600, 10, 86400 * 7, 'A job still PENDING after this is failed'),
  JOB_LEASE_SECONDS: Int(60, 5, 3600, 'A worker holding a job longer than this loses it to another worker'),
  SIGNATURE_TRUST: Type.Union([Type.Literal('auto'), Type.Literal('any-test-ca'), Type.Literal('trusted-roots')], {
    default: 'auto',
    description:
      'Signed compositions: any-test-ca = any valid signature whose certificate carries the author tax id (sandbox); trusted-roots = chain to SIGNATURE_TRUST_ROOTS; auto = any-test-ca on the embedded database, else trusted-roots',
  }),
  SIGNATURE_TRUST_ROOTS: Type.String({ default: '', description: 'PEM file of trusted CA certificates for SIGNATURE_TRUST=trusted-roots' }),
  EMAL_FILTER_CANCEL_TIMEOUT_DISABILITY: Type.String({
    default: 'max-duration-days:7',
    pattern: '^max-duration-days:[0-9]{1,5}$',
    description: 'An МВТН can be cancelled within this many days of signing (1005 after)',
  }),
  EMAL_FILTER_CANCEL_TIMEOUT_NEWBORN: Type.String({
    default: 'max-duration-days:180',
    pattern: '^max-duration-days:[0-9]{1,5}$',
    description: 'An МВН can be cancelled within this many days of signing (1005 after)',
  }),
  CANCEL_COMPOSITION_SMS_TEMPLATE: Type.String({
    default: 'Медичний висновок <composition_number> скасовано',
    maxLength: 1000,
    description: 'SMS to the patient when a composition naming INFORM_WITH is cancelled',
  }),
  // МВТН chains (RC_5 / RC_6 / RC_7) and the composition SMS: docs/compositions.md
  EMAL_COMPOSITION_FLOW_REPLACE_ENABLED: Type.String({
    default: 'auto',
    pattern: '^([Aa][Uu][Tt][Oo]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$',
    description:
      'RC_7 replacement of a cancelled composition: FALSE as published (create answers 1181), TRUE to allow it; auto = TRUE on the embedded sandbox, FALSE on PostgreSQL',
  }),
  EMAL_REPLACEMENT_FLOW_DISABILITY_ALLOWED_CANCELLATION_REASONS: Type.String({
    default: 'INCORRECT_CATEGORY,INCORRECT_DISABILITY_PERIOD,INCORRECT_INOXICATION,INCORRECT_PATIENT,INCORRECT_TRITMENT_VIOLATION',
    pattern: '^[A-Z_]+(,[A-Z_]+)*$',
    description: 'Cancellation reasons of an МВТН that allow a replacement (comma-separated; the published value)',
  }),
  EMAL_FILTER_REPLACEMENT_CANCEL_TIMEOUT_DISABILITY: Type.String({
    default: 'max-duration-days:365',
    pattern: '^max-duration-days:[0-9]{1,5}$',
    description: 'A replacement can be created within this many days of the cancellation of its target',
  }),
  EMAL_FILTER_APPENDS_TIMEOUT_DISABILITY: Type.String({
    default: 'max-duration-days:7',
    pattern: '^max-duration-days:[0-9]{1,5}$',
    description: 'RC_5: an МВТН can be extended or reduced until this many days after its end date (name ours; 7 days per vendor practice)',
  }),
  CREATE_TEMP_DISABILITY_COMPOSITION_SMS_TEMPLATE: Type.String({
    default: 'Медичний висновок про тимчасову непрацездатність <composition_number> створено',
    maxLength: 1000,
    description: 'SMS to the patient when an МВТН naming INFORM_WITH becomes FINAL, and on resend',
  }),
  CREATE_NEWBORN_COMPOSITION_SMS_TEMPLATE: Type.String({
    default: 'Медичний висновок про народження <composition_number> створено',
    maxLength: 1000,
    description: 'SMS to the patient when an МВН naming INFORM_WITH becomes FINAL, and on resend',
  }),
  ME_ALLOWED_TRANSACTIONS_LE_TYPES: Type.String({
    default: 'MSP,MSP_PHARMACY,PRIMARY_CARE,OUTPATIENT,EMERGENCY',
    pattern: '^[A-Z_]+(,[A-Z_]+)*$',
    description: 'Legal entity types that may resend the composition SMS (comma-separated; 409 for others)',
  }),
  // ERLN (the register of sick-leave certificates): src/erln, docs/erln.md
  ERLN_ADAPTER: Type.Union([Type.Literal('simulator'), Type.Literal('http')], {
    default: 'simulator',
    description: 'simulator = the in-process ERLN simulator (state in the database, faults through /admin/erln); http = ERLN_URL',
  }),
  ERLN_URL: Type.String({ default: '', description: 'Base URL of ERLN (or of `npm run erln-sim`) for ERLN_ADAPTER=http' }),
  ERLN_TIMEOUT_MS: Int(10000, 100, 300000, 'An ERLN call without an answer within this is retried'),
  ERLN_MAX_TRIES: Int(8, 1, 100, 'Calls to ERLN per integration task before it ends FAILED / ERROR (unreachable)'),
  ERLN_RETRY_DELAY_SECONDS: Int(2, 1, 3600, 'First retry delay of an ERLN call (exponential backoff)'),
  ERLN_RETRY_DELAY_MAX_SECONDS: Int(300, 1, 86400, 'Longest delay between two calls of one ERLN task'),
});
export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

const ajv = new Ajv({ useDefaults: true, coerceTypes: true, allErrors: true, strict: false });
const validate = ajv.compile(ConfigSchema);

export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  // Ajv's integer coercion accepts "12abc"? No — but it accepts "" and " 3 "; reject non-digits up front for clarity.
  const problems: string[] = [];
  for (const [key, schema] of Object.entries(ConfigSchema.properties) as [string, { type?: string }][]) {
    if (schema.type === 'integer' && typeof input[key] === 'string' && !/^-?\d+$/.test(String(input[key]).trim())) {
      problems.push(`${key}=${JSON.stringify(input[key])}: must be an integer`);
    }
  }
  if (problems.length === 0 && !validate(input)) {
    for (const e of validate.errors ?? []) {
      const key = e.instancePath.replace(/^\//, '');
      problems.push(`${key}=${JSON.stringify(input[key])}: ${e.message}`);
    }
  }
  const config = { ...(input as Config), ...overrides };
  if (problems.length === 0 && config.SMS_PROVIDER === 'http' && !/^https?:\/\//.test(config.SMS_GATEWAY_URL)) {
    problems.push(`SMS_GATEWAY_URL=${JSON.stringify(config.SMS_GATEWAY_URL)}: must be an http(s) URL when SMS_PROVIDER=http`);
  }
  if (problems.length === 0 && config.ERLN_ADAPTER === 'http' && !/^https?:\/\//.test(config.ERLN_URL)) {
    problems.push(`ERLN_URL=${JSON.stringify(config.ERLN_URL)}: must be an http(s) URL when ERLN_ADAPTER=http`);
  }
  if (problems.length === 0 && config.DATABASE_URL && !/^(postgres(ql)?:\/\/|memory:\/\/)/.test(config.DATABASE_URL)) {
    problems.push(`DATABASE_URL: must start with postgres://, postgresql:// or memory://`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  // The embedded sandbox prints an all-scope token and the admin key: only this machine may reach it unless HOST says otherwise.
  if (!config.HOST) config.HOST = isEmbedded(config) ? '127.0.0.1' : '0.0.0.0';
  return config;
}

/** The days of an EMAL `max-duration-days:N` setting. */
export function maxDurationDays(setting: string): number {
  return Number(/^max-duration-days:(\d+)$/.exec(setting)?.[1] ?? NaN);
}

/** EMAL_COMPOSITION_FLOW_REPLACE_ENABLED, with `auto` resolved by the database the service runs on. */
export function replaceFlowEnabled(config: Config): boolean {
  const v = config.EMAL_COMPOSITION_FLOW_REPLACE_ENABLED.toLowerCase();
  return v === 'auto' ? isEmbedded(config) : v === 'true';
}

/** A comma-separated list setting as its values. */
export function listSetting(setting: string): string[] {
  return setting.split(',').filter(Boolean);
}

export function isEmbedded(config: Config): boolean {
  return !config.DATABASE_URL || config.DATABASE_URL.startsWith('memory://');
}

/** For entry points: the validated config, or a clear message on stderr and exit code 78 (EX_CONFIG). */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`esoz-core: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
