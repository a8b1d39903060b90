import type { Capability } from '../platform/platform.ts';
import { registryFixtureKinds } from './fixtures.ts';
import { dictionaryRoutes } from './dictionaries.ts';
import { personRoutes } from './persons.ts';

export const registryCapability: Capability = {
  name: 'registry',
  fixtures: registryFixtureKinds,
  routes(app, platform) {
    dictionaryRoutes(app, platform);
    personRoutes(app, platform);
  },
};
