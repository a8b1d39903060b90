/**
 * The sandbox an MIS developer gets from `npm start`: an admin key, demo registry data, and a demo
 * client + token with every scope. Generated once per database and kept in `sandbox_state`, so the
 * credentials printed at start stay the same across restarts of the same DATA_DIR.
 */
import { randomBytes } from 'node:crypto';
import type { Platform } from '../platform/platform.ts';
import { ALL_SCOPES } from '../platform/scopes.ts';
import { loadDemoData, DEMO } from './demo-data.ts';
import { getState, grantScopes, setState } from './sandbox-store.ts';

export interface SandboxInfo {
  adminKey?: string;
  demo?: { clientId: string; secret: string; token: string; ids: typeof DEMO };
  /** true when this start loaded the demo data (the first start on this database) */
  loaded?: boolean;
}

export async function ensureSandbox(platform: Platform, opts: { embedded: boolean }): Promise<SandboxInfo> {
  const { db, config } = platform;
  const info: SandboxInfo = {};
  if (!config.ADMIN_KEY && opts.embedded) {
    let key = await getState<string>(db, 'admin_key');
    if (!key) {
      key = randomBytes(18).toString('base64url');
      await setState(db, 'admin_key', key);
    }
    config.ADMIN_KEY = key;
  }
  info.adminKey = config.ADMIN_KEY || undefined;

  const wantDemo = config.DEMO_DATA === 'on' || (config.DEMO_DATA === 'auto' && opts.embedded);
  if (!wantDemo) return info;
  let creds = await getState<{ clientId: string; secret: string; token: string }>(db, 'demo_credentials');
  if (!creds) {
    await loadDemo(platform);
    const client = await platform.auth.createClient({ id: DEMO.clientId, name: 'Demo MIS', legalEntityId: DEMO.legalEntityId });
    const { access_token } = await platform.auth.issueToken({
      clientId: client.id,
      userId: DEMO.userId,
      employeeId: DEMO.doctorEmployeeId,
      scopes: [...ALL_SCOPES],
      expiresIn: 10 * 365 * 86400,
    });
    creds = { clientId: client.id, secret: client.secret, token: access_token };
    await setState(db, 'demo_credentials', creds);
    info.loaded = true;
  } else {
    // a sandbox made by an earlier version keeps its printed token: it gets the scopes added since
    await grantScopes(db, creds.clientId, [...ALL_SCOPES]);
  }
  info.demo = { ...creds, ids: DEMO };
  return info;
}

/** The demo data of the sandbox and of every capability (first start; reset.ts). */
export async function loadDemo(platform: Platform): Promise<void> {
  await loadDemoData(platform);
  for (const cap of platform.capabilities) await cap.demo?.(platform);
}
