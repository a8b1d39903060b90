/** Unit checks of the pieces behind the compositions endpoints: canonical JSON, titles, ETA, CMS verification modes. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sameDocument, generateTitle, TITLE_RE, firstDifference, requestHash } from '../src/compositions/document.ts';
import { estimateEta, jobsAhead } from '../src/compositions/job-store.ts';
import { PkijsSignatureVerifier, SignatureError, taxIdOf } from '../src/platform/signature.ts';
import { ESOZ_HUMAN_NUMBER, HumanNumberFormat } from '../src/platform/human-number.ts';
import { makeCa, makeSigner, signCms } from './support/cms.ts';

describe('semantic JSON comparison', () => {
  test('key order, escapes, 1.0 vs 1, {} vs [] do not matter', () => {
    const stored = { a: 1, b: 'x/y', c: [], d: {}, e: [{ k: 'Ж', n: 2 }], f: null };
    const signedText = '{"f":null,"e":[{"n":2.0,"k":"\\u0416"}],"d":[],"c":{},"b":"x\\/y","a":1.0}';
    assert.ok(sameDocument(JSON.parse(signedText), stored));
  });
  test('values, array order, null vs absent and missing keys do matter', () => {
    assert.ok(!sameDocument({ a: 1 }, { a: 2 }));
    assert.ok(!sameDocument({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!sameDocument({ a: 1, b: null }, { a: 1 }));
    assert.ok(!sameDocument({ a: '1' }, { a: 1 }));
    assert.equal(firstDifference({ a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 3 }] } }), '$.a.b[1].c');
  });
  test('request hash ignores key order', () => {
    assert.equal(requestHash('CREATE', null, { a: 1, b: { c: 2, d: 3 } }), requestHash('CREATE', null, { b: { d: 3, c: 2 }, a: 1 }));
    assert.notEqual(requestHash('CREATE', null, { a: 1 }), requestHash('SIGN', null, { a: 1 }));
  });
});

describe('title', () => {
  test('4 blocks of 4 from the ESOZ alphabet, random', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = generateTitle();
      assert.match(t, TITLE_RE);
      for (const ch of t.replace(/-/g, '')) assert.ok(ESOZ_HUMAN_NUMBER.alphabet.includes(ch));
      seen.add(t);
    }
    assert.equal(seen.size, 2000);
  });
  test('the same format as MR request numbers; other layouts of the generator', () => {
    assert.equal(ESOZ_HUMAN_NUMBER.alphabet, '0123456789ABCEHIKMOPTX');
    assert.ok(TITLE_RE.test('0000-243P-1X53-EH38'));
    assert.ok(!TITLE_RE.test('0000-243P-1X53-EH3Z'));
    assert.ok(!TITLE_RE.test('0000243P1X53EH38'));
    const f = new HumanNumberFormat('AB', [2, 3], '.');
    for (let i = 0; i < 50; i++) assert.match(f.random(), /^[AB]{2}\.[AB]{3}$/);
    assert.equal(f.fromBigInt(5n), 'AA.BAB');
    assert.ok(f.pattern.test('AB.BBA'));
    assert.ok(!f.pattern.test('ABxBBA'), 'the separator is literal');
  });
});

describe('eta', () => {
  test('grows with the queue ahead and the measured times; a started job gets started + service', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(estimateEta({ now, ahead: 0, serviceMs: 200, drainMs: 50, startedAt: null }).getTime(), now + 200);
    assert.equal(estimateEta({ now, ahead: 10, serviceMs: 200, drainMs: 50, startedAt: null }).getTime(), now + 200 + 500);
    assert.equal(estimateEta({ now, ahead: 10, serviceMs: 200, drainMs: 50, startedAt: new Date(now - 100) }).getTime(), now + 100);
    // overrunning: half its elapsed time again, never in the past
    assert.equal(estimateEta({ now, ahead: 0, serviceMs: 200, drainMs: 50, startedAt: new Date(now - 5000) }).getTime(), now + 2500);
    assert.ok(estimateEta({ now, ahead: 0, serviceMs: 1, drainMs: 1, startedAt: new Date(now) }).getTime() > now);
    // a stalled queue: clients back off with the waiting time
    assert.equal(
      estimateEta({ now, ahead: 2, serviceMs: 200, drainMs: 50, startedAt: null, insertedAt: new Date(now - 60_000) }).getTime(),
      now + 30_000,
    );
    assert.equal(
      estimateEta({ now, ahead: 2, serviceMs: 200, drainMs: 50, startedAt: null, insertedAt: new Date(now - 100) }).getTime(),
      now + 300,
    );
    // the turnaround clients see (accept → finish) plus 4 mean deviations is a floor, less what the job already waited
    assert.equal(estimateEta({ now, ahead: 0, serviceMs: 10, drainMs: 10, startedAt: null, turnMs: 30, turnDevMs: 5 }).getTime(), now + 50);
    assert.equal(
      estimateEta({
        now,
        ahead: 0,
        serviceMs: 10,
        drainMs: 10,
        startedAt: null,
        insertedAt: new Date(now - 20),
        turnMs: 30,
        turnDevMs: 5,
      }).getTime(),
      now + 30,
    );
    assert.equal(
      estimateEta({ now, ahead: 10, serviceMs: 10, drainMs: 10, startedAt: null, turnMs: 30, turnDevMs: 5 }).getTime(),
      now + 110,
    );
  });
  test('jobs ahead: PENDING positions before the job in the queue snapshot; past a full snapshot, the span from the oldest', () => {
    assert.equal(jobsAhead([], 7), 0);
    assert.equal(jobsAhead([3, 5, 9, 12], 3), 0);
    assert.equal(jobsAhead([3, 5, 9, 12], 9), 2);
    assert.equal(jobsAhead([3, 5, 9, 12], 10), 3, 'a job between positions (finished neighbours)');
    assert.equal(jobsAhead([3, 5, 9, 12], 40), 4, 'a job newer than the snapshot: every job in it is ahead');
    const full = Array.from({ length: 1000 }, (_, i) => 100 + 2 * i);
    assert.equal(jobsAhead(full, 100 + 2 * 500), 500);
    assert.equal(jobsAhead(full, 5000), 5000 - 100, 'beyond a full snapshot: the span from the oldest PENDING job');
  });
});

describe('CMS verification', () => {
  test('trusted-roots: a certificate of a configured CA passes, others fail', async () => {
    const ca = await makeCa('Trusted CA');
    const rogue = await makeCa('Rogue CA');
    const verifier = new PkijsSignatureVerifier({ trust: 'trusted-roots', roots: [ca.pem] });
    const good = await makeSigner({ ca, taxId: '1234567890', alg: 'RSA' });
    const r = await verifier.verify(await signCms(good, '{"x":1}'));
    assert.equal(r.taxId, '1234567890');
    assert.equal(Buffer.from(r.content).toString(), '{"x":1}');
    for (const signer of [await makeSigner({ ca: rogue, taxId: '1234567890' }), await makeSigner({ taxId: '1234567890' })]) {
      await assert.rejects(
        verifier.verify(await signCms(signer, '{"x":1}')),
        (e: unknown) => e instanceof SignatureError && e.reason === 'certificate',
      );
    }
    const none = new PkijsSignatureVerifier({ trust: 'trusted-roots' });
    await assert.rejects(none.verify(await signCms(good, '{}')), /no trusted certification authorities are configured/);
  });
  test('any-test-ca: any valid signature; an expired certificate fails', async () => {
    const verifier = new PkijsSignatureVerifier({ trust: 'any-test-ca' });
    const self = await makeSigner({ taxId: 'TINUA-1234567890' });
    assert.equal((await verifier.verify(await signCms(self, '{}', { signedAttributes: false }))).taxId, '1234567890');
    const expired = await makeSigner({
      taxId: '1234567890',
      notBefore: new Date(Date.now() - 10 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    });
    await assert.rejects(verifier.verify(await signCms(expired, '{}')), /not valid at/);
  });
  test('tax id from the DRFO attribute wins over the subject serialNumber', async () => {
    const s = await makeSigner({ drfo: '3126509816', taxId: 'CERT-0001' });
    assert.equal(taxIdOf(s.cert), '3126509816');
    const plain = await makeSigner({ taxId: 'CERT-0001' });
    assert.equal(taxIdOf(plain.cert), null);
  });
});
