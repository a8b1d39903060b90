import type { Capability } from './platform/platform.ts';
import { registryCapability } from './registry/capability.ts';
import { sandboxCapability } from './sandbox/capability.ts';
import { eprescriptionCapability } from './eprescription/capability.ts';
import { compositionsCapability } from './compositions/capability.ts';
import { erlnCapability } from './erln/capability.ts';

/** Every capability of the service, in registration order. */
export const capabilities: Capability[] = [
  registryCapability,
  sandboxCapability,
  eprescriptionCapability,
  compositionsCapability,
  erlnCapability,
];
