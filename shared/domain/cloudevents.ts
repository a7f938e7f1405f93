/**
 * Release events sent as a structured CloudEvent 1.0 (`application/cloudevents+json`),
 * plain or carrying a CDEvent 0.5 (./cdevents.ts). This module turns one into the
 * input of EventService.ingest; nothing here touches the store.
 *
 * - The envelope is checked here (required attributes, specversion 1.0, attribute
 *   names, extension value types) and then by the `cloudevents` SDK's strict
 *   validation (formats: `source` URI-reference, `time` RFC 3339, `dataschema` URI).
 *   Every finding is a 400 naming the attribute (`body.<attribute>`).
 * - The receiver is the `receiverid` extension attribute (a receiver id); a plain
 *   CloudEvent may carry `receiverId` in its data instead.
 * - The release event's id is derived from the CloudEvent's `source` + `id` (which
 *   CloudEvents makes unique per event), so a redelivery finds the first event.
 */
import { derivedUuid } from './derived-id.js';
import { CloudEvent, ValidationError as CloudEventSdkError } from 'cloudevents';
import { isCdEventType, releaseEventFromCdEvent } from './cdevents.js';
import type { FieldError } from './errors.js';
import { FieldReader, invalid, isJsonObject } from './field-reader.js';
import type { CreateEventInput } from './events.js';
import type { JsonObject } from './model.js';

/** The media type of a structured CloudEvent in JSON (CloudEvents JSON Event Format). */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** The extension attribute that names the receiver. */
export const RECEIVER_ATTRIBUTE = 'receiverid';

const REQUIRED = ['specversion', 'id', 'source', 'type'] as const;
const OPTIONAL = ['datacontenttype', 'dataschema', 'subject', 'time', 'data'] as const;
const CONTEXT_ATTRIBUTES = new Set<string>([...REQUIRED, ...OPTIONAL]);
/** CloudEvents 1.0: attribute names are lower-case ASCII letters and digits. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** A validated CloudEvent envelope whose data is a JSON object. */
export interface IncomingCloudEvent {
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  /** The `receiverid` extension, if sent. */
  receiverId?: string;
  data: JsonObject;
}

/** Where the parts of a release event came from, for the problems EventService reports. */
export interface IngestPaths {
  receiverId: string;
  payload: string;
  eventEnd: string;
}

export interface CloudEventIngest {
  /** The release event's id, derived from the CloudEvent's source + id. */
  eventId: string;
  input: CreateEventInput;
  paths: IngestPaths;
}

/** Extension values in the JSON format: String (URI, URI-reference and Timestamp included), Integer, Boolean. */
const isExtensionValue = (value: unknown) =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isInteger(value));

/** The SDK's strict validation: ajv errors carry the attribute as `instancePath` (`/source`). */
function sdkFindings(error: unknown): FieldError[] {
  if (!(error instanceof CloudEventSdkError)) {
    return [{ path: 'body', message: error instanceof Error ? error.message : 'is not a valid CloudEvent' }];
  }
  const found = (error.errors ?? []).flatMap((e): FieldError[] => {
    if (typeof e !== 'object' || e === null) return [];
    const { instancePath, message } = e as { instancePath?: unknown; message?: unknown };
    const attribute = typeof instancePath === 'string' ? instancePath.replace(/^\//, '').split('/')[0] : '';
    return [{ path: attribute ? `body.${attribute}` : 'body', message: typeof message === 'string' ? message : 'is invalid' }];
  });
  return found.length > 0 ? found : [{ path: 'body', message: error.message.split('\n')[0] ?? 'is not a valid CloudEvent' }];
}

/** Checks a structured CloudEvent 1.0; throws a ValidationError naming every bad attribute. */
export function readCloudEvent(raw: unknown): IncomingCloudEvent {
  if (!isJsonObject(raw)) throw invalid([{ path: 'body', message: 'must be a JSON object (a structured CloudEvent)' }]);
  const errors: FieldError[] = [];
  for (const name of REQUIRED) {
    const value = raw[name];
    if (value === undefined || value === null) errors.push({ path: `body.${name}`, message: 'is required' });
    else if (typeof value !== 'string' || value.length === 0) errors.push({ path: `body.${name}`, message: 'must be a non-empty string' });
  }
  if (typeof raw.specversion === 'string' && raw.specversion !== '1.0') {
    errors.push({ path: 'body.specversion', message: 'must be 1.0 (this API takes CloudEvents 1.0)' });
  }
  for (const [name, value] of Object.entries(raw)) {
    if (name === 'data_base64') {
      errors.push({ path: 'body.data_base64', message: 'is not accepted: send the release event as JSON in data' });
    } else if (name === 'schemaurl') {
      errors.push({ path: 'body.schemaurl', message: 'is a CloudEvents 0.3 attribute; 1.0 has dataschema' });
    } else if (!ATTRIBUTE_NAME.test(name)) {
      errors.push({
        path: `body.${name.slice(0, 40)}`,
        message: 'is not a valid attribute name: use lower-case letters a-z and digits 0-9',
      });
    } else if (!CONTEXT_ATTRIBUTES.has(name) && !isExtensionValue(value)) {
      errors.push({ path: `body.${name}`, message: 'must be a string, an integer or a boolean (an extension attribute)' });
    }
  }
  const { datacontenttype, data } = raw;
  if (
    datacontenttype !== undefined &&
    (typeof datacontenttype !== 'string' || !JSON_MEDIA_TYPE.test(datacontenttype.split(';')[0]?.trim() ?? ''))
  ) {
    errors.push({ path: 'body.datacontenttype', message: 'must be application/json (or absent)' });
  }
  if (!isJsonObject(data)) errors.push({ path: 'body.data', message: 'must be a JSON object (the release event)' });
  const receiverId = raw[RECEIVER_ATTRIBUTE];
  if (receiverId !== undefined && (typeof receiverId !== 'string' || !UUID.test(receiverId))) {
    errors.push({ path: `body.${RECEIVER_ATTRIBUTE}`, message: 'must be the id (a UUID) of a receiver' });
  }
  if (errors.length > 0) throw invalid(errors);
  try {
    new CloudEvent(raw, true);
  } catch (error) {
    throw invalid(sdkFindings(error));
  }
  return {
    id: raw.id as string,
    source: raw.source as string,
    type: raw.type as string,
    ...(typeof raw.subject === 'string' ? { subject: raw.subject } : {}),
    ...(typeof raw.time === 'string' ? { time: raw.time } : {}),
    ...(typeof receiverId === 'string' ? { receiverId: receiverId.toLowerCase() } : {}),
    data: data as JsonObject,
  };
}

/** A random-looking but stable namespace for the derived ids (UUID v5, RFC 9562). */
const NAMESPACE = Buffer.from('5c1e6f0a7d3b4e2a9f8c1b0d2e3f4a5b', 'hex');

/** The release event id for a CloudEvent: UUID v5 of its `source` and `id`, the pair CloudEvents makes unique. */
export function releaseEventIdOf(source: string, id: string): string {
  return derivedUuid(NAMESPACE, [source, id]);
}

// ---- plain CloudEvents: data is the release event --------------------------------

const RELEASE_FIELDS = new Set([
  'receiverId',
  'name',
  'version',
  'release',
  'platformId',
  'package',
  'description',
  'payload',
  'success',
  'eventStart',
  'eventEnd',
]);

/**
 * A plain CloudEvent's data is the JSON body of POST /api/v1/events, with two
 * differences: `receiverId` may come from the `receiverid` extension instead, and
 * `eventStart` / `eventEnd` default to the CloudEvent's `time`.
 */
function releaseEventFromData(event: IncomingCloudEvent): CloudEventIngest {
  const { data } = event;
  const read = new FieldReader();
  for (const key of Object.keys(data)) {
    if (!RELEASE_FIELDS.has(key)) read.fail(`body.data.${key.slice(0, 40)}`, 'is not a release event field');
  }
  let receiverId = event.receiverId;
  let receiverPath = `body.${RECEIVER_ATTRIBUTE}`;
  if (data.receiverId !== undefined) {
    if (typeof data.receiverId !== 'string' || !UUID.test(data.receiverId)) read.fail('body.data.receiverId', 'must be a UUID');
    else if (receiverId && receiverId !== data.receiverId.toLowerCase())
      read.fail('body.data.receiverId', `differs from the ${RECEIVER_ATTRIBUTE} attribute`);
    else {
      receiverId = data.receiverId.toLowerCase();
      receiverPath = 'body.data.receiverId';
    }
  } else if (!receiverId) {
    read.fail(`body.${RECEIVER_ATTRIBUTE}`, 'is required: the id of the receiver, as an extension attribute (or receiverId in data)');
  }
  const name = read.text(data.name, 'body.data.name', 255);
  const version = read.text(data.version, 'body.data.version', 100);
  const release = read.text(data.release, 'body.data.release', 100);
  const platformId = read.text(data.platformId, 'body.data.platformId', 255);
  const pkg = read.text(data.package, 'body.data.package', 255);
  if (data.description !== undefined && (typeof data.description !== 'string' || data.description.length > 2000)) {
    read.fail('body.data.description', 'must be a string of at most 2000 characters');
  }
  const payload = data.payload === undefined ? undefined : read.object(data.payload, 'body.data.payload');
  const success = read.boolean(data.success, 'body.data.success');
  const eventStart = read.instant(data.eventStart ?? event.time, 'body.data.eventStart');
  const eventEnd = read.instant(data.eventEnd ?? event.time, 'body.data.eventEnd');
  read.throwIfAny();
  return {
    eventId: releaseEventIdOf(event.source, event.id),
    input: {
      receiverId: receiverId as string,
      name: name as string,
      version: version as string,
      release: release as string,
      platformId: platformId as string,
      package: pkg as string,
      ...(typeof data.description === 'string' ? { description: data.description } : {}),
      ...(payload ? { payload } : {}),
      success: success as boolean,
      eventStart: eventStart as string,
      eventEnd: eventEnd as string,
    },
    paths: {
      receiverId: receiverPath,
      payload: 'body.data.payload',
      eventEnd: data.eventEnd === undefined ? 'body.time' : 'body.data.eventEnd',
    },
  };
}

/**
 * A structured CloudEvent → the release event it records. A `type` of
 * `dev.cdevents.…` is a CDEvent (./cdevents.ts); any other type carries the
 * release event itself in `data`.
 */
export function releaseEventFromCloudEvent(raw: unknown): CloudEventIngest {
  const event = readCloudEvent(raw);
  if (isCdEventType(event.type)) {
    const { input, paths } = releaseEventFromCdEvent(event);
    return { eventId: releaseEventIdOf(event.source, event.id), input, paths };
  }
  return releaseEventFromData(event);
}
