// An entry point for test/start-script.test.ts: proves the bundle ran and what it was built from.
import { PROBE_WORD } from './start-probe-dep.ts';

process.stdout.write(`${PROBE_WORD}\n`);
