import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigSchema } from '../src/platform/config.ts';

const readme = readFileSync('README.md', 'utf8');

test('README documents every configuration variable', () => {
  const missing = Object.keys(ConfigSchema.properties).filter((k) => !readme.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
});

test('README shows the two set-up commands', () => {
  assert.match(readme, /```sh\nnpm ci && npm start\n```/);
  assert.match(readme, /```sh\nnpm test\n```/);
});
