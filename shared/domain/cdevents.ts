/**
 * CDEvents 0.5 carried in a CloudEvent (the CDEvents CloudEvents binding: the
 * CloudEvent `type`, `id` and `source` are the CDEvent's, and `data` is the whole
 * CDEvent: `context`, `subject`, `customData`) → a release event.
 *
 * The release event is derived from the CDEvent's own fields (see `MAPPINGS`);
 * `customData`, when an object, may set any of them explicitly (`name`, `version`,
 * `release`, `platformId`, `package`, `description`, `success`, `eventStart`).
 * The payload checked against the receiver's schema is the CDEvent itself.
 */
import type { IncomingCloudEvent, IngestPaths } from './cloudevents.js';
import type { CreateEventInput } from './events.js';
import { FieldReader, invalid, isJsonObject } from './field-reader.js';
import type { JsonObject } from './model.js';

const PREFIX = 'dev.cdevents.';
/** `dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>[-<pre-release>]` */
const TYPE = /^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/;
/** CDEvents spec versions accepted in `context.specversion`. */
const SPEC_VERSION = /^0\.5\.\d+$/;
const PIPELINE_OUTCOMES = ['success', 'failure', 'cancel', 'error'] as const;

export const isCdEventType = (type: string): boolean => type.startsWith(PREFIX);

/** A value and the field it was read from, so a problem names what the caller sent. */
interface Sourced<T> {
  value: T;
  path: string;
  /** What to say when the value is missing. */
  missing?: string;
}

interface Derived {
  name: Sourced<unknown>;
  version: Sourced<unknown>;
  package: Sourced<unknown>;
  platformId?: Sourced<unknown>;
  success: Sourced<unknown>;
  description?: string;
}

interface Subject {
  id: string;
  content: JsonObject;
}

type Mapping = (subject: Subject, read: FieldReader) => Derived;

/** A package URL (purl, as CDEvents uses for artifact ids): `pkg:type/namespace/name@version?qualifiers#subpath`. */
export interface PackageUrl {
  /** `pkg:type/namespace/name`, without version, qualifiers and subpath. */
  package: string;
  name: string;
  version?: string;
}

const decode = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
};

export function parsePackageUrl(value: string): PackageUrl | undefined {
  const match = /^pkg:([a-zA-Z][a-zA-Z0-9.+-]*)\/([^?#@]+)(?:@([^?#]+))?(?:\?[^#]*)?(?:#.*)?$/.exec(value);
  if (!match) return undefined;
  const [, type, path, version] = match as unknown as [string, string, string, string | undefined];
  const segments = path.split('/').filter(Boolean);
  const name = segments.at(-1);
  if (!name) return undefined;
  return {
    package: `pkg:${type.toLowerCase()}/${segments.join('/')}`,
    name: decode(name),
    ...(version ? { version: decode(version) } : {}),
  };
}

const SUBJECT_ID = 'body.data.subject.id';
const CONTENT = 'body.data.subject.content';

/** What an artifact id (a purl, or any other id) tells: name, version and package. */
function fromArtifact(artifactId: string, path: string, fallbackName: Sourced<unknown>): Pick<Derived, 'name' | 'version' | 'package'> {
  const purl = parsePackageUrl(artifactId);
  if (!purl) return { name: fallbackName, version: { value: undefined, path }, package: { value: artifactId, path } };
  return { name: { value: purl.name, path }, version: { value: purl.version, path }, package: { value: purl.package, path } };
}

const pipelineRun =
  (finished: boolean): Mapping =>
  (subject) => {
    const { content } = subject;
    const name = typeof content.pipelineName === 'string' && content.pipelineName.trim() ? content.pipelineName : subject.id;
    let success: boolean | undefined = true;
    if (finished) {
      const outcome = content.outcome;
      const known = typeof outcome === 'string' && (PIPELINE_OUTCOMES as readonly string[]).includes(outcome);
      success = known ? outcome === 'success' : undefined;
    }
    return {
      name: { value: name, path: `${CONTENT}.pipelineName` },
      // A pipeline run has no version of its own: the run (subject id) is the version of the pipeline.
      version: { value: subject.id, path: SUBJECT_ID },
      package: { value: name, path: `${CONTENT}.pipelineName` },
      success: {
        value: success,
        path: `${CONTENT}.outcome`,
        missing: `must be one of ${PIPELINE_OUTCOMES.join(', ')} (or set customData.success)`,
      },
      ...(typeof content.errors === 'string' ? { description: content.errors } : {}),
    };
  };

const buildFinished: Mapping = (subject) => {
  const artifactId = subject.content.artifactId;
  const idAsName = { value: subject.id, path: SUBJECT_ID };
  const artifact =
    typeof artifactId === 'string' && artifactId
      ? fromArtifact(artifactId, `${CONTENT}.artifactId`, idAsName)
      : { name: idAsName, version: { value: subject.id, path: SUBJECT_ID }, package: idAsName };
  if (artifact.version.value === undefined) artifact.version = { value: subject.id, path: SUBJECT_ID };
  return { ...artifact, success: { value: true, path: SUBJECT_ID } };
};

/** artifact.*: the subject id is the artifact's purl. */
const artifactEvent: Mapping = (subject) => {
  const artifact = fromArtifact(subject.id, SUBJECT_ID, { value: subject.id, path: SUBJECT_ID });
  artifact.version.missing = 'must be a package URL with a version (pkg:type/name@version), or set customData.version';
  return { ...artifact, success: { value: true, path: SUBJECT_ID } };
};

/** service.*: the subject id is the service, content.artifactId what runs, content.environment.id where. */
const serviceEvent =
  (success: boolean): Mapping =>
  (subject, read) => {
    const { content } = subject;
    const environment = read.object(content.environment, `${CONTENT}.environment`);
    const artifactId = read.text(content.artifactId, `${CONTENT}.artifactId`, 2048);
    const artifact = artifactId ? fromArtifact(artifactId, `${CONTENT}.artifactId`, { value: subject.id, path: SUBJECT_ID }) : undefined;
    return {
      name: { value: subject.id, path: SUBJECT_ID },
      version: artifact?.version.value !== undefined ? artifact.version : { value: artifactId, path: `${CONTENT}.artifactId` },
      package: artifact?.package ?? { value: subject.id, path: SUBJECT_ID },
      platformId: { value: environment?.id, path: `${CONTENT}.environment.id` },
      success: { value: success, path: 'body.type' },
    };
  };

/** The CDEvents 0.5 event types recorded as release events, by `<subject>.<predicate>`; all at event version 0.3.x in CDEvents 0.5. */
const MAPPINGS: Record<string, Mapping> = {
  'pipelinerun.started': pipelineRun(false),
  'pipelinerun.finished': pipelineRun(true),
  'build.finished': buildFinished,
  'artifact.packaged': artifactEvent,
  'artifact.published': artifactEvent,
  'service.deployed': serviceEvent(true),
  'service.upgraded': serviceEvent(true),
  // The release did not stay: a rollback records an unsuccessful release of the rolled-back artifact.
  'service.rolledback': serviceEvent(false),
};
/** The event version each supported type has in CDEvents 0.5 (major.minor; any patch). */
const EVENT_VERSION = { major: 0, minor: 3 };

export const SUPPORTED_CDEVENT_TYPES: readonly string[] = Object.keys(MAPPINGS).map(
  (key) => `${PREFIX}${key}.${EVENT_VERSION.major}.${EVENT_VERSION.minor}.x`,
);

function mappingOf(type: string): Mapping {
  const match = TYPE.exec(type);
  const supported = `supported: ${SUPPORTED_CDEVENT_TYPES.join(', ')}`;
  if (!match)
    throw invalid([{ path: 'body.type', message: `is not a CDEvent type (dev.cdevents.<subject>.<predicate>.<version>); ${supported}` }]);
  const [, subject, predicate, major, minor] = match as unknown as [string, string, string, string, string];
  const mapping = MAPPINGS[`${subject}.${predicate}`];
  if (!mapping) throw invalid([{ path: 'body.type', message: `${subject}.${predicate} is not a supported CDEvent; ${supported}` }]);
  if (Number(major) !== EVENT_VERSION.major || Number(minor) !== EVENT_VERSION.minor || match[6]) {
    throw invalid([
      {
        path: 'body.type',
        message: `event version ${type.slice(PREFIX.length + subject.length + predicate.length + 2)} is not the CDEvents 0.5 one; ${supported}`,
      },
    ]);
  }
  return mapping;
}

/** Explicit values a producer may set in customData, overriding what the CDEvent implies. */
type Override = 'name' | 'version' | 'release' | 'platformId' | 'package' | 'description' | 'success' | 'eventStart';

export function releaseEventFromCdEvent(event: IncomingCloudEvent): { input: CreateEventInput; paths: IngestPaths } {
  const mapping = mappingOf(event.type);
  const read = new FieldReader();
  const { data } = event;
  const context = read.object(data.context, 'body.data.context');
  const subjectRaw = read.object(data.subject, 'body.data.subject');
  read.throwIfAny();
  const ctx = context as JsonObject;
  const specversion = ctx.specversion;
  if (typeof specversion !== 'string' || !SPEC_VERSION.test(specversion)) {
    throw invalid([{ path: 'body.data.context.specversion', message: 'must be a CDEvents 0.5.x version, e.g. 0.5.0' }]);
  }
  // The binding: the CloudEvent's id, source and type are the CDEvent's.
  for (const attribute of ['id', 'source', 'type'] as const) {
    if (ctx[attribute] !== event[attribute]) read.fail(`body.data.context.${attribute}`, `must equal the CloudEvent ${attribute}`);
  }
  const timestamp = read.instant(ctx.timestamp, 'body.data.context.timestamp');
  const subjectId = read.text((subjectRaw as JsonObject).id, SUBJECT_ID, 2048);
  const content = read.object((subjectRaw as JsonObject).content, CONTENT);
  const custom = isJsonObject(data.customData) ? data.customData : {};
  if (!event.receiverId) read.fail('body.receiverid', 'is required: the id of the receiver, as an extension attribute');
  read.throwIfAny();

  const derived = mapping({ id: subjectId as string, content: content as JsonObject }, read);
  const pick = (key: Override, fallback: Sourced<unknown> | undefined): Sourced<unknown> =>
    custom[key] !== undefined
      ? { value: custom[key], path: `body.data.customData.${key}` }
      : (fallback ?? { value: undefined, path: 'body.data' });
  const name = pick('name', derived.name);
  const version = pick('version', derived.version);
  const release = pick('release', version);
  const platformId = pick('platformId', derived.platformId ?? { value: event.source, path: 'body.source' });
  const pkg = pick('package', derived.package);
  const success = pick('success', derived.success);
  const eventStart = pick('eventStart', { value: timestamp, path: 'body.data.context.timestamp' });
  const description = pick('description', { value: derived.description ?? '', path: 'body.data' });

  const text = (s: Sourced<unknown>, max: number) =>
    s.value === undefined ? read.fail(s.path, s.missing ?? 'is required') : read.text(s.value, s.path, max);
  const out = {
    name: text(name, 255),
    version: text(version, 100),
    release: text(release, 100),
    platformId: text(platformId, 255),
    package: text(pkg, 255),
    success:
      success.value === undefined ? read.fail(success.path, success.missing ?? 'is required') : read.boolean(success.value, success.path),
    eventStart: read.instant(eventStart.value, eventStart.path),
  };
  if (typeof description.value !== 'string') read.fail(description.path, 'must be a string');
  read.throwIfAny();
  return {
    input: {
      receiverId: event.receiverId as string,
      name: out.name as string,
      version: out.version as string,
      release: out.release as string,
      platformId: out.platformId as string,
      package: out.package as string,
      description: (description.value as string).slice(0, 2000),
      payload: data,
      success: out.success as boolean,
      eventStart: out.eventStart as string,
      eventEnd: timestamp as string,
    },
    // eventEnd is the timestamp: an explicit customData.eventStart after it is the one at fault.
    paths: { receiverId: 'body.receiverid', payload: 'body.data', eventEnd: eventStart.path },
  };
}
