import { NotFoundError, ValidationError } from './errors.js';
import { schemaProblem } from './json-schema.js';
import type { JsonObject, Page, Receiver } from './model.js';
import type { Clock, IdGenerator, ReceiverQuery, ReleaseStore } from './ports.js';
import { writableRevision } from './revisions.js';

export interface CreateReceiverInput {
  name: string;
  type: string;
  version: string;
  description?: string;
  schema: JsonObject;
}

export interface UpdateReceiverInput {
  revision?: number;
  name?: string;
  type?: string;
  version?: string;
  description?: string;
  schema?: JsonObject;
}

/** A schema is untrusted input: over a limit (SCHEMA_TOO_LARGE, SCHEMA_TOO_DEEP) or not compilable (INVALID_SCHEMA) is a 400. */
function assertSchemaCompiles(schema: JsonObject): void {
  const problem = schemaProblem(schema);
  if (problem) throw new ValidationError(problem.message, problem.errors, problem.code);
}

export class ReceiverService {
  constructor(
    private readonly store: ReleaseStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async create(input: CreateReceiverInput): Promise<Receiver> {
    assertSchemaCompiles(input.schema);
    const now = this.clock.now();
    const receiver: Receiver = {
      id: this.ids.next(),
      name: input.name,
      type: input.type,
      version: input.version,
      description: input.description ?? '',
      schema: input.schema,
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createReceiver(receiver);
    return receiver;
  }

  async get(id: string): Promise<Receiver> {
    const receiver = await this.store.getReceiver(id);
    if (!receiver) throw new NotFoundError('Receiver', id);
    return receiver;
  }

  async update(id: string, input: UpdateReceiverInput, ifMatch?: string): Promise<Receiver> {
    const current = await this.get(id);
    const expected = writableRevision('Receiver', current, input.revision, ifMatch);
    if (input.schema) assertSchemaCompiles(input.schema);
    const { revision: _ignored, ...changes } = input;
    const next: Receiver = { ...current, ...changes, revision: current.revision + 1, updatedAt: this.clock.now() };
    await this.store.replaceReceiver(next, expected);
    return next;
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const current = await this.get(id);
    const expected = writableRevision('Receiver', current, revision, ifMatch);
    await this.store.deleteReceiver(id, expected);
  }

  list(query: ReceiverQuery): Promise<Page<Receiver>> {
    return this.store.listReceivers(query);
  }
}
