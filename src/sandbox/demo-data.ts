/** Demo data of the sandbox. Fixed ids so README curl lines work on every fresh start. */
import type { Platform } from '../platform/platform.ts';

export const DEMO = {
  clientId: '6f1d0c2a-0000-4000-8000-000000000001',
  userId: '6f1d0c2a-0000-4000-8000-000000000002',
  legalEntityId: '6f1d0c2a-0000-4000-8000-000000000010',
  doctorEmployeeId: '6f1d0c2a-0000-4000-8000-000000000020',
  mrOtpId: '6f1d0c2a-0000-4000-8000-000000000100',
};

export async function loadDemoData(_platform: Platform): Promise<void> {
  // registry demo rows are added by the registry/sandbox work
}
