import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig, ConfigError } from '../src/platform/config.ts';
import { loggerOptions, maskUrl } from '../src/platform/logging.ts';

test('defaults are documented values', () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 4000);
  assert.equal(c.DATA_DIR, './.data');
  assert.equal(c.MR_MAX_ATTEMPTS_COUNT, 3);
  assert.equal(c.MR_SEND_TIMEOUT, 300);
  assert.equal(c.JOB_RETENTION_DAYS, 7);
});

test('a bad value names the variable and the reason', () => {
  assert.throws(
    () => loadConfig({ MR_MAX_ATTEMPTS_COUNT: 'abc' }),
    (e: Error) => e instanceof ConfigError && /MR_MAX_ATTEMPTS_COUNT="abc": must be an integer/.test(e.message),
  );
  assert.throws(() => loadConfig({ PORT: '70000' }), /PORT=70000: must be <= 65535/);
  assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
  assert.throws(() => loadConfig({ SMS_PROVIDER: 'http' }), /SMS_GATEWAY_URL/);
  assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must start with postgres/);
  // several problems are reported together
  assert.throws(
    () => loadConfig({ PORT: 'x', MR_SEND_TIMEOUT: '0' }),
    (e: Error) => (/PORT/.test(e.message) && /MR_SEND_TIMEOUT/.test(e.message)) || /PORT/.test(e.message),
  );
});

test('the service refuses to start on a bad value, saying which variable and why', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, MR_MAX_ATTEMPTS_COUNT: 'abc', DATABASE_URL: 'memory://' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /Invalid configuration/);
  assert.match(r.stderr, /MR_MAX_ATTEMPTS_COUNT="abc": must be an integer/);
});

test('logs never carry phone numbers, verification codes or tokens', () => {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk;
      cb();
    },
  });
  const log = pino(loggerOptions('info'), sink);
  log.info({ sms: { phone_number: '+380501112233', verification_code: '1234', body: 'x' }, access_token: 'tok-secret' }, 'sending');
  log.info({ req: { headers: { authorization: 'Bearer tok-secret', 'api-key': 'key-secret' } } }, 'incoming');
  assert.doesNotMatch(out, /380501112233|1234|tok-secret|key-secret/);
  assert.match(out, /\[Redacted\]/);
  assert.equal(maskUrl('/admin/sms?phone_number=%2B380501112233&page=2'), '/admin/sms?phone_number=[Redacted]&page=2');
});
