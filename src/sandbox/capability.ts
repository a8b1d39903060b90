import type { Capability } from '../platform/platform.ts';
import { adminRoutes } from './admin.ts';

export const sandboxCapability: Capability = {
  name: 'sandbox',
  async routes(app, platform) {
    await app.register(adminRoutes, { prefix: '/admin', platform });
  },
};
