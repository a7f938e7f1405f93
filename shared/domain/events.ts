import { NotFoundError, RuleViolationError, ValidationError } from './errors.js';
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

export class EventService {
  constructor(
    private readonly store: ReleaseStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async ingest(input: CreateEventInput): Promise<ReleaseEvent> {
    const eventStart = normalizeInstant(input.eventStart);
    const eventEnd = normalizeInstant(input.eventEnd);
    if (eventEnd < eventStart) {
      throw new ValidationError('eventEnd is before eventStart', [{ path: 'body.eventEnd', message: 'must not be before eventStart' }]);
    }
    const receiver = await this.store.getReceiver(input.receiverId);
    if (!receiver) {
      throw new RuleViolationError(`Receiver ${input.receiverId} does not exist`, 'UNKNOWN_RECEIVER', [
        { path: 'body.receiverId', message: 'no such receiver' },
      ]);
    }
    const payload = input.payload ?? {};
    const problems = this.validate(receiver.name, receiver.schema, payload);
    if (problems.length > 0) {
      throw new RuleViolationError(
        `The payload does not match the schema of receiver ${receiver.name}`,
        'PAYLOAD_SCHEMA_MISMATCH',
        problems,
      );
    }
    const event: ReleaseEvent = {
      id: this.ids.next(),
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
  private validate(receiverName: string, schema: JsonObject, payload: unknown) {
    try {
      return validatePayload(schema, payload);
    } catch (error) {
      if (!(error instanceof UnusableSchemaError)) throw error;
      throw new RuleViolationError(
        `The schema of receiver ${receiverName} cannot be used; update the receiver`,
        'RECEIVER_SCHEMA_UNUSABLE',
        [{ path: 'body.receiverId', message: error.message }],
      );
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
