import type { Capability } from '../platform/platform.ts';
import { adminRoutes } from './admin.ts';
import { consoleEnabled, consoleRoutes } from './console/routes.ts';

export const sandboxCapability: Capability = {
  name: 'sandbox',
  async routes(app, platform) {
    await app.register(adminRoutes, { prefix: '/admin', platform });
    // the console is a face of the admin API: there only when the admin API is on
    if (consoleEnabled(platform)) await app.register(consoleRoutes, { prefix: '/console', platform });
  },
};
