/**
 * The CloudEvent 1.0 envelope of every Switchyard event (DESIGN.md §5), with
 * the W3C `traceparent` extension so the trace crosses the bus.
 */
import { EVENT_TYPE_FIELDS, eventData, type SwitchyardEventType } from './types.js';

export interface SwitchyardCloudEvent {
  specversion: '1.0';
  id: string;
  /** `switchyard/<area>` */
  source: string;
  type: SwitchyardEventType;
  /** The entity the event is about (its id). */
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** Absent only when the relay sent a claim check (`dataref`) because the event was too large for the bus. */
  data?: unknown;
  /** CloudEvents `dataref` extension: where the full data can be read when `data` was left out. */
  dataref?: string;
  /** W3C trace context of the request that made the change. */
  traceparent?: string;
}

export interface CloudEventInput {
  id: string;
  type: SwitchyardEventType;
  subject: string;
  time: string;
  data: unknown;
  traceparent?: string;
}

/** Builds the envelope; `data` keeps only the fields the type lists (./types.ts). */
export function cloudEvent(input: CloudEventInput): SwitchyardCloudEvent {
  const spec = EVENT_TYPE_FIELDS[input.type];
  return {
    specversion: '1.0',
    id: input.id,
    source: `switchyard/${spec.area}`,
    type: input.type,
    subject: input.subject,
    time: input.time,
    datacontenttype: 'application/json',
    data: eventData(input.type, input.data),
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
  };
}

/** The bus's `source` for an event: `switchyard.<area>` (EventBridge reserves `aws.` and likes dotted names). */
export const busSourceOf = (event: Pick<SwitchyardCloudEvent, 'source'>) => event.source.replace('/', '.');

/**
 * W3C `traceparent` from Lambda's X-Ray trace header
 * (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`):
 * an X-Ray trace id is a W3C trace id with its version and dash removed.
 */
export function traceparentFromXRay(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const fields = Object.fromEntries(header.split(';').map((part) => part.split('=') as [string, string]));
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(fields.Root ?? '');
  const parent = /^[0-9a-f]{16}$/.exec(fields.Parent ?? '');
  if (!root || !parent) return undefined;
  return `00-${root[1]}${root[2]}-${parent[0]}-${fields.Sampled === '1' ? '01' : '00'}`;
}
