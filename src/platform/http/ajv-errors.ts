/**
 * Maps Ajv errors to ESOZ `invalid[]` entries (the nex_json_schema vocabulary ESOZ used:
 * required, cast, format, length, inclusion, number, schema_does_not_allow_additional_properties).
 */
import type { ErrorObject } from 'ajv';
import type { InvalidEntry } from '../errors.ts';
import { TOO_MANY_ERRORS } from './bounds.ts';

const JSON_TYPE_NAMES: Record<string, string> = {
  object: 'Object',
  array: 'List',
  string: 'String',
  integer: 'Integer',
  number: 'Number',
  boolean: 'Boolean',
  null: 'Null',
};

export function jsonPath(instancePath: string, child?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  let out = '$';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_][\w]*$/.test(p) ? `.${p}` : `['${p}']`;
  return out;
}

function actualType(v: unknown): string {
  if (v === null) return 'Null';
  if (Array.isArray(v)) return 'List';
  if (Number.isInteger(v)) return 'Integer';
  return JSON_TYPE_NAMES[typeof v] ?? typeof v;
}

function valueAt(root: unknown, instancePath: string): unknown {
  let cur: any = root;
  for (const p of instancePath.split('/').slice(1)) {
    if (cur == null) return undefined;
    cur = cur[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** The final entry of a capped `invalid[]`: the list is not complete. */
export function truncatedEntry(limit: number): InvalidEntry {
  return {
    entry: '$',
    entry_type: 'request',
    rules: [
      { rule: 'too_many_errors', params: [limit], description: `more invalid entries were found than are listed (at most ${limit})` },
    ],
  };
}

/**
 * `errors` as `invalid[]`, one entry per path with its distinct rules, at most `limit` entries (then
 * `truncatedEntry` is appended). Linear in the number of errors, so a huge 422 cannot hold the event loop.
 */
export function ajvToInvalid(
  errors: ErrorObject[],
  root: unknown,
  entryType: InvalidEntry['entry_type'] = 'json_data_property',
  limit = Infinity,
): InvalidEntry[] {
  const byEntry = new Map<string, { entry: InvalidEntry; seen: Set<string> }>();
  let truncated = false;
  const add = (entry: string, rule: string, params: unknown[], description: string) => {
    let e = byEntry.get(entry);
    if (!e) {
      if (byEntry.size >= limit) {
        truncated = true;
        return;
      }
      byEntry.set(entry, (e = { entry: { entry, entry_type: entryType, rules: [] }, seen: new Set() }));
    }
    const key = `${rule}\u0000${description}`;
    if (!e.seen.has(key)) {
      e.seen.add(key);
      e.entry.rules.push({ rule, params, description });
    }
  };
  // "No branch matched" is noise when an error at or under the same path carries the detail. Ajv
  // reports a failed anyOf/oneOf/if right after its branches' errors, so looking back over the errors
  // under its path is enough (and keeps this linear).
  const hasDetail = (i: number) => {
    const path = errors[i].instancePath;
    for (let j = i - 1; j >= 0; j--) {
      const e = errors[j];
      if (e.instancePath !== path && !e.instancePath.startsWith(`${path}/`)) return false;
      if (!['anyOf', 'oneOf', 'if'].includes(e.keyword)) return true;
    }
    return false;
  };
  for (const [i, err] of errors.entries()) {
    if (truncated) break;
    // the validator stopped listing errors (bounds.ts: boundedValidator)
    if (err.keyword === TOO_MANY_ERRORS) {
      truncated = true;
      break;
    }
    const p = err.params as Record<string, any>;
    switch (err.keyword) {
      case 'required':
        add(jsonPath(err.instancePath, p.missingProperty), 'required', [], `required property ${p.missingProperty} was not present`);
        break;
      case 'additionalProperties':
        add(
          jsonPath(err.instancePath, p.additionalProperty),
          'schema_does_not_allow_additional_properties',
          [],
          'schema does not allow additional properties',
        );
        break;
      case 'type': {
        const expected = String(p.type)
          .split(',')
          .map((t) => JSON_TYPE_NAMES[t] ?? t);
        add(
          jsonPath(err.instancePath),
          'cast',
          expected.map((t) => t.toLowerCase()),
          `type mismatch. Expected ${expected.join(' or ')} but got ${actualType(valueAt(root, err.instancePath))}`,
        );
        break;
      }
      case 'enum':
      case 'const':
        add(jsonPath(err.instancePath), 'inclusion', p.allowedValues ?? [p.allowedValue], `value is not allowed in enum`);
        break;
      case 'format':
        add(jsonPath(err.instancePath), 'format', [p.format], `expected "${valueAt(root, err.instancePath)}" to be a valid ${p.format}`);
        break;
      case 'pattern':
        add(jsonPath(err.instancePath), 'format', [p.pattern], `string does not match pattern "${p.pattern}"`);
        break;
      case 'minLength':
      case 'maxLength':
      case 'minItems':
      case 'maxItems':
        add(
          jsonPath(err.instancePath),
          'length',
          [p.limit],
          `expected value to have ${err.keyword.startsWith('min') ? 'a minimum' : 'a maximum'} length of ${p.limit}`,
        );
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        add(jsonPath(err.instancePath), 'number', [p.limit], `expected the value to be ${p.comparison} ${p.limit}`);
        break;
      case 'anyOf':
      case 'oneOf':
      case 'if':
        // the branch errors carry the detail; a bare "no branch matched" adds noise when they exist
        if (!hasDetail(i)) {
          add(jsonPath(err.instancePath), 'schemata', [], 'expected exactly one of the schemata to match, but none of them did');
        }
        break;
      default:
        add(jsonPath(err.instancePath), err.keyword, [], err.message ?? 'is invalid');
    }
  }
  const out = [...byEntry.values()].map((e) => e.entry);
  if (truncated) out.push(truncatedEntry(limit));
  return out;
}
