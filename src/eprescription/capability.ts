import type { Capability } from '../platform/platform.ts';

export const eprescriptionCapability: Capability = {
  name: 'eprescription',
};
