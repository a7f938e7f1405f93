import { AlreadyExistsError, NotFoundError, RuleViolationError, ValidationError } from './errors.js';
import { normalizeInstant } from './instants.js';
import { UnusableSchemaError, validatePayload } from './json-schema.js';
import type { JsonObject, Page, ReleaseEvent } from './model.js';
import type { Clock, EventQuery, IdGenerator, ReleaseStore } from './ports.js';

export interface CreateEventInput {
  receiverId: string;
  name: string;
  version: string;
  release: string;
  platformId: string;
  package: string;
  description?: string;
  payload?: JsonObject;
  success: boolean;
  eventStart: string;
  eventEnd: string;
}

/** Options of EventService.ingest for events that arrive in another shape (a CloudEvent). */
export interface IngestOptions {
  /** The event's id (default: a new one). */
  id?: string;
  /** Where the caller sent the receiver id, the payload and eventEnd, for the problems (default `body.receiverId`, …). */
  paths?: { receiverId: string; payload: string; eventEnd?: string };
}

/** What ingestOnce answers: the event, and whether it already existed. */
export interface IngestOnceResult {
  event: ReleaseEvent;
  replayed: boolean;
}

export class EventService {
  constructor(
    private readonly store: ReleaseStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async ingest(input: CreateEventInput, options: IngestOptions = {}): Promise<ReleaseEvent> {
    const paths = options.paths ?? { receiverId: 'body.receiverId', payload: 'body.payload' };
    const eventStart = normalizeInstant(input.eventStart);
    const eventEnd = normalizeInstant(input.eventEnd);
    if (eventEnd < eventStart) {
      throw new ValidationError('eventEnd is before eventStart', [
        { path: paths.eventEnd ?? 'body.eventEnd', message: 'must not be before eventStart' },
      ]);
    }
    const receiver = await this.store.getReceiver(input.receiverId);
    if (!receiver) {
      throw new RuleViolationError(`Receiver ${input.receiverId} does not exist`, 'UNKNOWN_RECEIVER', [
        { path: paths.receiverId, message: 'no such receiver' },
      ]);
    }
    const payload = input.payload ?? {};
    const problems = this.validate(receiver.name, receiver.schema, payload, paths.receiverId).map((p) => ({
      ...p,
      path: p.path.replace(/^body\.payload/, paths.payload),
    }));
    if (problems.length > 0) {
      throw new RuleViolationError(
        `The payload does not match the schema of receiver ${receiver.name}`,
        'PAYLOAD_SCHEMA_MISMATCH',
        problems,
      );
    }
    const event: ReleaseEvent = {
      id: options.id ?? this.ids.next(),
      receiverId: receiver.id,
      name: input.name,
      version: input.version,
      release: input.release,
      platformId: input.platformId,
      package: input.package,
      description: input.description ?? '',
      payload,
      success: input.success,
      eventStart,
      eventEnd,
      createdAt: this.clock.now(),
    };
    await this.store.createEvent(event, receiver.revision);
    return event;
  }

  /** A stored schema that no longer compiles (stored before today's limits) is the receiver's problem, not a 500. */
  private validate(receiverName: string, schema: JsonObject, payload: unknown, receiverPath: string) {
    try {
      return validatePayload(schema, payload);
    } catch (error) {
      if (!(error instanceof UnusableSchemaError)) throw error;
      throw new RuleViolationError(
        `The schema of receiver ${receiverName} cannot be used; update the receiver`,
        'RECEIVER_SCHEMA_UNUSABLE',
        [{ path: receiverPath, message: error.message }],
      );
    }
  }

  /**
   * Records the event under a caller-derived id exactly once: if an event with
   * that id exists (a redelivered CloudEvent), it is the answer and nothing is
   * written, even when the receiver's schema changed since.
   */
  async ingestOnce(input: CreateEventInput, id: string, paths?: IngestOptions['paths']): Promise<IngestOnceResult> {
    const existing = await this.store.getEvent(id);
    if (existing) return { event: existing, replayed: true };
    try {
      return { event: await this.ingest(input, { id, ...(paths ? { paths } : {}) }), replayed: false };
    } catch (error) {
      // Two deliveries at once: the other one committed first.
      if (!(error instanceof AlreadyExistsError)) throw error;
      const winner = await this.store.getEvent(id);
      if (!winner) throw error;
      return { event: winner, replayed: true };
    }
  }

  async get(id: string): Promise<ReleaseEvent> {
    const event = await this.store.getEvent(id);
    if (!event) throw new NotFoundError('Event', id);
    return event;
  }

  list(query: EventQuery): Promise<Page<ReleaseEvent>> {
    if (query.from && query.to && normalizeInstant(query.to) < normalizeInstant(query.from)) {
      throw new ValidationError('to is before from', [{ path: 'query.to', message: 'must not be before from' }]);
    }
    return this.store.listEvents({
      ...query,
      ...(query.from ? { from: normalizeInstant(query.from) } : {}),
      ...(query.to ? { to: normalizeInstant(query.to) } : {}),
    });
  }
}
