import type { Capability } from '../platform/platform.ts';
import { registryFixtureKinds } from './fixtures.ts';
import { dictionaryRoutes } from './dictionaries.ts';
import { personRoutes } from './persons.ts';
import { prepersonRoutes } from './preperson-routes.ts';

export const registryCapability: Capability = {
  name: 'registry',
  fixtures: registryFixtureKinds,
  async routes(app, platform) {
    await app.register(dictionaryRoutes, { prefix: '/api', platform });
    await app.register(personRoutes, { prefix: '/api', platform });
    await app.register(prepersonRoutes, { prefix: '/api', platform });
  },
};
