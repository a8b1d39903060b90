/**
 * Per-runtime state (caches, readers, verifiers, a capability's processor): one instance per
 * runtime, made on first use and closed with the runtime. Module-level maps keyed by `Db` or
 * `Platform` hid that state from `close()` and from a second runtime in the same process (tests,
 * benchmarks); a key names the state and how to build it instead.
 */
import type { Platform } from './platform.ts';

export interface ServiceKey<T> {
  readonly name: string;
  create(platform: Platform): T;
  close?(value: T): void | Promise<void>;
}

export function serviceKey<T>(name: string, create: (platform: Platform) => T, close?: (value: T) => void | Promise<void>): ServiceKey<T> {
  return { name, create, close };
}

export class Services {
  private readonly values = new Map<ServiceKey<unknown>, unknown>();
  private platform: Platform | undefined;

  /** The runtime calls this once the platform object exists (services are built from it). */
  bind(platform: Platform): void {
    this.platform = platform;
  }

  get<T>(key: ServiceKey<T>): T {
    if (this.values.has(key)) return this.values.get(key) as T;
    if (!this.platform) throw new Error(`service ${key.name} requested before the runtime was built`);
    const value = key.create(this.platform);
    this.values.set(key, value);
    return value;
  }

  /** Closes every service that was made, newest first. */
  async close(): Promise<void> {
    const made = [...this.values.entries()].reverse();
    this.values.clear();
    for (const [key, value] of made) await key.close?.(value);
  }
}
