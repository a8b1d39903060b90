/**
 * Maps Ajv errors to ESOZ `invalid[]` entries (the nex_json_schema vocabulary ESOZ used:
 * required, cast, format, length, inclusion, number, schema_does_not_allow_additional_properties).
 */
import type { ErrorObject } from 'ajv';
import type { InvalidEntry } from '../errors.ts';

const JSON_TYPE_NAMES: Record<string, string> = {
  object: 'Object', array: 'List', string: 'String', integer: 'Integer', number: 'Number', boolean: 'Boolean', null: 'Null',
};

export function jsonPath(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
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

export function ajvToInvalid(errors: ErrorObject[], root: unknown, entryType: InvalidEntry['entry_type'] = 'json_data_property'): InvalidEntry[] {
  const byEntry = new Map<string, InvalidEntry>();
  const add = (entry: string, rule: string, params: unknown[], description: string) => {
    const e = byEntry.get(entry) ?? { entry, entry_type: entryType, rules: [] };
    if (!e.rules.some((r) => r.rule === rule && r.description === description)) e.rules.push({ rule, params, description });
    byEntry.set(entry, e);
  };
  for (const err of errors) {
    const p = err.params as Record<string, any>;
    switch (err.keyword) {
      case 'required':
        add(jsonPath(err.instancePath, p.missingProperty), 'required', [], `required property ${p.missingProperty} was not present`);
        break;
      case 'additionalProperties':
        add(jsonPath(err.instancePath, p.additionalProperty), 'schema_does_not_allow_additional_properties', [], 'schema does not allow additional properties');
        break;
      case 'type': {
        const expected = String(p.type).split(',').map((t) => JSON_TYPE_NAMES[t] ?? t);
        add(jsonPath(err.instancePath), 'cast', expected.map((t) => t.toLowerCase()),
          `type mismatch. Expected ${expected.join(' or ')} but got ${actualType(valueAt(root, err.instancePath))}`);
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
        add(jsonPath(err.instancePath), 'length', [p.limit], `expected value to have ${err.keyword.startsWith('min') ? 'a minimum' : 'a maximum'} length of ${p.limit}`);
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
        if (!errors.some((e) => e !== err && e.instancePath.startsWith(err.instancePath) && !['anyOf', 'oneOf', 'if'].includes(e.keyword))) {
          add(jsonPath(err.instancePath), 'schemata', [], 'expected exactly one of the schemata to match, but none of them did');
        }
        break;
      default:
        add(jsonPath(err.instancePath), err.keyword, [], err.message ?? 'is invalid');
    }
  }
  return [...byEntry.values()];
}
