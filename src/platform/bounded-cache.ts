/**
 * Per-process copies (MRs, persons, reference rows, finished jobs, verified tokens) must not grow
 * with the data: each cache holds at most `max` entries, and past that the least recently used one
 * goes. lru-cache does this in O(1) per call with its storage allocated once, so a full cache costs
 * no more than a warm one.
 */
import { LRUCache } from 'lru-cache';

/** lru-cache keeps no null or undefined keys and values: a cache that must remember "none" stores a sentinel. */
type Present = NonNullable<unknown>;

export type BoundedCache<K extends Present, V extends Present> = LRUCache<K, V>;

export function boundedCache<K extends Present, V extends Present>(max: number): BoundedCache<K, V> {
  return new LRUCache<K, V>({ max });
}
