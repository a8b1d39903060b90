import type { Capability } from '../platform/platform.ts';

export const compositionsCapability: Capability = {
  name: 'compositions',
};
