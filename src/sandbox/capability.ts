import type { Capability } from '../platform/platform.ts';

export const sandboxCapability: Capability = {
  name: 'sandbox',
};
