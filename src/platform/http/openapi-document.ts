/**
 * The last pass over the OpenAPI document before it is served: the schemas a route embeds by value
 * become named components referenced with `$ref`, so that generators (openapi-typescript, Postman,
 * openapi-generator) give them one type each instead of one per route.
 *
 * A schema is named by its JSON Schema `title` (an annotation: Ajv and fast-json-stringify ignore it).
 * Why not `$id` + addSchema: a schema with an `$id` embedded in the routes registered twice (under /api
 * and at the seed's unprefixed path) is compiled twice by Ajv, which refuses a second schema with the
 * same id; and `Type.Ref` would cost the TypeBox type provider its static request types.
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** Keys whose values are data (examples, enum values, defaults), never schemas to name. */
const LITERAL_KEYS = new Set(['example', 'examples', 'enum', 'default']);

/**
 * Replace every titled schema under `paths` and `components` with a `$ref` to
 * `components.schemas[title]` (the first copy met names it).
 */
export function nameSchemas(doc: Json): Json {
  const named: Record<string, Json> = {};
  const walk = (node: unknown, key: string): unknown => {
    if (Array.isArray(node)) return node.map((x) => walk(x, ''));
    if (!isObject(node) || LITERAL_KEYS.has(key) || key.startsWith('x-')) return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v, k);
    if (typeof out.title !== 'string' || key === 'properties' || !looksLikeSchema(out)) return out;
    const name = out.title;
    const existing = named[name];
    // The request copy of a schema may differ from its response copy (bounds.ts gives request strings a
    // maxLength): the copy that differs from the named one stays inline, still correct where it stands.
    // A nullable use (`Type.Union([X, Type.Null()])`, which the 3.0 rewrite merges into X + nullable) is
    // the component X referenced as nullable: the component itself is not.
    const { nullable, ...schema } = out;
    if (existing && JSON.stringify(existing) !== JSON.stringify(schema)) return out;
    named[name] = schema;
    const ref = { $ref: `#/components/schemas/${name}` };
    // 3.0 reads `nullable` only beside a `type` (Redocly's nullable-type-sibling)
    return nullable === true ? { type: schema.type, allOf: [ref], nullable: true } : ref;
  };
  const paths = walk(doc.paths ?? {}, 'paths');
  const components = isObject(doc.components) ? doc.components : {};
  const schemas = walk(components.schemas ?? {}, 'schemas') as Json;
  const sorted = Object.fromEntries(Object.entries({ ...schemas, ...named }).sort(([a], [b]) => a.localeCompare(b)));
  return { ...doc, paths, components: { ...components, schemas: sorted } };
}

/** A Schema Object, not a map of names that happens to hold a `title` entry (e.g. a `properties` map). */
function looksLikeSchema(node: Json): boolean {
  return 'type' in node || 'properties' in node || 'anyOf' in node || 'oneOf' in node || 'allOf' in node || 'enum' in node;
}
