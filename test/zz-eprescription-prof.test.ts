import { test } from 'node:test';
import { startTestServer } from './support/harness.ts';
import { seedRegistry, addMr, R, resendPath } from './eprescription-helpers.ts';
test('prof', async () => {
  const s = await startTestServer();
  await seedRegistry(s.runtime.platform.db);
  const mr = await addMr(s);
  const c = await s.mis({ legalEntityId: R.legalEntityId });
  for (let i = 0; i < 4; i++) await c.call('PATCH', resendPath(mr.id));
  const burst = async (label: string, f: () => Promise<unknown>) => {
    const t = Date.now();
    await Promise.all(Array.from({ length: 200 }, f));
    console.log(label, Date.now() - t);
  };
  await burst('200 GET ms', () => c.call('GET', `/api/medication_requests/${mr.id}`));
  await burst('200 429 ms', () => c.call('PATCH', resendPath(mr.id)));
  await burst('200 GET ms', () => c.call('GET', `/api/medication_requests/${mr.id}`));
  await burst('200 429 ms', () => c.call('PATCH', resendPath(mr.id)));
  await s.close();
});
