/** docs/events.md, generated from the event catalog (`npm run openapi` writes it; a test keeps it current). */
import * as z from 'zod';
import { EVENT_TYPES, type SwitchyardEventType } from './catalog.js';

interface JsonSchema {
  type?: string | string[];
  format?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  additionalProperties?: unknown;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

/** The schema itself, when zod put it under $defs (schemas with a meta id are emitted as a reference). */
function resolved(json: JsonSchema): JsonSchema {
  const ref = json.$ref?.replace('#/$defs/', '');
  return ref && json.$defs?.[ref] ? resolved({ ...json.$defs[ref], $defs: json.$defs }) : json;
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' \\| ');
  if (schema.type === 'array') return `${schema.items ? typeOf(schema.items) : 'any'}[]`;
  const type = Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type ?? 'any');
  return schema.format ? `${type} (${schema.format})` : type;
}

function fieldsTable(schema: z.ZodType): string {
  const json = resolved(z.toJSONSchema(schema, { unrepresentable: 'any' }) as JsonSchema);
  const rows = Object.entries(json.properties ?? {}).map(([name, field]) => {
    const required = json.required?.includes(name) ? 'yes' : 'no';
    return `| \`${name}\` | ${typeOf(resolved({ ...field, ...(json.$defs ? { $defs: json.$defs } : {}) }))} | ${required} | ${(field.description ?? '').replace(/\|/g, '\\|')} |`;
  });
  return ['| field | type | always | description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function eventsMarkdown(): string {
  const types = Object.keys(EVENT_TYPES) as SwitchyardEventType[];
  const sections = types.map((type) => {
    const spec = EVENT_TYPES[type];
    return [
      `### \`${type}\``,
      '',
      `Source \`switchyard/${spec.area}\` (on the bus: \`switchyard.${spec.area}\`). Emitted when ${spec.when}.`,
      '',
      fieldsTable(spec.data),
    ].join('\n');
  });
  return `<!-- Generated from shared/events/catalog.ts by \`npm run openapi\`; do not edit by hand. -->

# Events

Every state change Switchyard commits emits one CloudEvent 1.0, written in
the same DynamoDB transaction as the change and its audit record (the
outbox), then put on the EventBridge bus \`switchyard\` by the relay. An
event exists if and only if its change committed.

On the bus: \`source\` = \`switchyard.<area>\`, \`detail-type\` = the CloudEvent
\`type\`, \`detail\` = the whole CloudEvent:

| attribute | value |
| --- | --- |
| \`specversion\` | \`1.0\` |
| \`id\` | a UUID, unique per event: consumers deduplicate on it (delivery is at least once) |
| \`source\` | \`switchyard/<area>\` |
| \`type\` | one of the types below |
| \`subject\` | the id of the entity the change addressed (for a membership, the group) |
| \`time\` | when the change committed (ISO 8601, UTC) |
| \`datacontenttype\` | \`application/json\` |
| \`data\` | the entity after the change (its public fields only, as the API shows it); \`{ "id" }\` for a deletion |
| \`dataref\` | only when the event was too large for EventBridge (256 KB): the API path to read the entity; \`data\` is then left out |
| \`traceparent\` | W3C trace context of the request that made the change |

## Types

${sections.join('\n\n')}
`;
}
