import type { Capability } from '../platform/platform.ts';
import { adminRoutes } from './admin.ts';

export const sandboxCapability: Capability = {
  name: 'sandbox',
  routes: adminRoutes,
};
