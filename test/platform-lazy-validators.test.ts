import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { LazyValidators, type Validate } from '../src/platform/http/bounds.ts';

const errorPaths = (v: Validate) => v.errors?.map((e) => e.instancePath);

const schema = { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } }, required: ['a'] };

test('a lazy validator compiles on its first call, then answers and reports errors like the compiled one', () => {
  const lazy = new LazyValidators();
  const ajv = new Ajv({ allErrors: true });
  let compiles = 0;
  const validate = lazy.wrap(() => {
    compiles++;
    return ajv.compile(schema);
  });
  assert.equal(compiles, 0, 'nothing is compiled when the route is registered');
  assert.equal(validate({ a: 1 }), true);
  assert.equal(validate.errors, null);
  assert.equal(validate({ a: 'x', b: 2 }), false);
  assert.deepEqual(errorPaths(validate), ['/a', '/b']);
  assert.equal(validate({ a: 2 }), true);
  assert.equal(validate.errors, null, 'errors of an earlier call do not stick');
  assert.equal(compiles, 1, 'compiled once');
});

test('warm() compiles the pending validators in the background, but not those marked warm:false', async () => {
  const lazy = new LazyValidators();
  const ajv = new Ajv();
  const compiled: string[] = [];
  const make = (name: string) => () => {
    compiled.push(name);
    return ajv.compile(schema);
  };
  lazy.wrap(make('first'));
  const used = lazy.wrap(make('used'));
  lazy.wrap(make('rare'), { warm: false });
  used({ a: 1 });
  assert.deepEqual(compiled, ['used']);
  const warming = lazy.warm();
  assert.deepEqual(compiled, ['used'], 'warm() does not block the caller');
  await warming;
  assert.deepEqual(compiled.sort(), ['first', 'used']);
});
