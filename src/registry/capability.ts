import type { Capability } from '../platform/platform.ts';

export const registryCapability: Capability = {
  name: 'registry',
};
