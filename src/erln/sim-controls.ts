/** The simulator's controls, shared by `npm run erln-sim` and the sandbox's /admin/erln. */
import { Type, type Static } from 'typebox';
import { SimModeSchema, SimCall, SimRecord, SimSettings, type ErlnSimStore } from './simulator.ts';

export const SimSettingsPatch = Type.Object(
  {
    mode: Type.Optional(SimModeSchema),
    reject_code: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 99999 }), Type.Null()])),
    reject_message: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    fail_next: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);
export type SimSettingsPatch = Static<typeof SimSettingsPatch>;

export async function applySettingsPatch(store: ErlnSimStore, patch: SimSettingsPatch): Promise<void> {
  await store.setSettings({ ...(await store.settings()), ...patch });
}

export const SimView = Type.Object(
  {
    ...SimSettings.properties,
    records: Type.Array(SimRecord, { description: 'SL records, newest first' }),
    calls: Type.Array(SimCall, { description: 'The last calls, newest first' }),
  },
  { additionalProperties: false, title: 'ErlnSimulator', description: 'The fault settings, the records and the last calls' },
);

/** Settings, records (newest first) and the last calls (newest first). */
export async function simView(store: ErlnSimStore): Promise<Static<typeof SimView>> {
  const [settings, records, calls] = await Promise.all([store.settings(), store.records(), store.calls()]);
  return { ...settings, records: records.sort((a, b) => b.created_at.localeCompare(a.created_at)), calls };
}
