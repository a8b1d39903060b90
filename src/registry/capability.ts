import type { Capability } from '../platform/platform.ts';
import { registryFixtureKinds } from './fixtures.ts';
import { dictionaryRoutes } from './dictionaries.ts';

export const registryCapability: Capability = {
  name: 'registry',
  fixtures: registryFixtureKinds,
  routes: dictionaryRoutes,
};
