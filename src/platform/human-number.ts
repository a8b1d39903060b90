/**
 * ESOZ human-readable numbers: blocks of symbols from a restricted alphabet joined by '-', e.g.
 * `0027-K4E1-THE0-064A` (esoz-docs §4.3, "Human readable requisition number"). MR request numbers
 * derive theirs from a digest of the entity id (the same on every fresh start); composition titles
 * draw theirs at random. The database's unique index is the final guard against a repeat.
 */
import { randomInt } from 'node:crypto';

export class HumanNumberFormat {
  /** symbols in a number, separators not counted */
  readonly length: number;
  /** a whole number of this format; its `source` is the pattern the schemas publish */
  readonly pattern: RegExp;

  constructor(
    readonly alphabet: string,
    readonly blocks: readonly number[],
    readonly separator = '-',
  ) {
    this.length = blocks.reduce((a, b) => a + b, 0);
    const symbol = `[${alphabet}]`;
    const sep = separator.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    this.pattern = new RegExp(`^${blocks.map((n) => `${symbol}{${n}}`).join(sep)}$`);
  }

  /** `n` written in the alphabet, most significant symbol first, leading zeros kept and digits past `length` dropped. */
  fromBigInt(n: bigint): string {
    const base = BigInt(this.alphabet.length);
    let s = '';
    for (let i = 0; i < this.length; i++) {
      s = this.alphabet[Number(n % base)] + s;
      n /= base;
    }
    return this.layout(s);
  }

  /** Every symbol drawn uniformly from the alphabet (node:crypto). */
  random(): string {
    let s = '';
    for (let i = 0; i < this.length; i++) s += this.alphabet[randomInt(this.alphabet.length)];
    return this.layout(s);
  }

  private layout(symbols: string): string {
    const parts: string[] = [];
    let at = 0;
    for (const n of this.blocks) {
      parts.push(symbols.slice(at, at + n));
      at += n;
    }
    return parts.join(this.separator);
  }
}

/** Four blocks of four from `0123456789ABCEHIKMOPTX` (22^16 ≈ 3·10^21 numbers): request numbers and composition titles. */
export const ESOZ_HUMAN_NUMBER = new HumanNumberFormat('0123456789ABCEHIKMOPTX', [4, 4, 4, 4]);
