/**
 * The edge-locations API over its store port (DESIGN.md §4, §6): edge CRUD
 * with a key shown once, heartbeats, the desired configuration and an edge's
 * heartbeat history. The rules are ./edges.ts's; DynamoDB is
 * shared/store/edge-store.ts; the edge key's secret comes from outside.
 */
import {
  desiredConfig,
  edgeHealth,
  validateEdgeInput,
  type CreateEdgeInput,
  type DesiredConfig,
  type EdgeAssignment,
  type EdgeLocation,
  type Heartbeat,
  type HeartbeatRecord,
  type HealthConfig,
  DEFAULT_HEALTH,
} from './edges.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { JsonObject, Page, PageRequest } from './model.js';
import type { Clock, IdGenerator } from './ports.js';
import { writableRevision } from './revisions.js';

/** An edge as stored: what an administrator set. Its heartbeat summary is kept beside it, and health is computed on read. */
export type EdgeRecord = Omit<EdgeLocation, 'health' | 'lastHeartbeatAt'>;

/** An edge as the API shows it: health from the age of its newest heartbeat, and that heartbeat. */
export interface EdgeView extends EdgeLocation {
  lastHeartbeat?: HeartbeatRecord;
}

export interface EdgeQuery extends PageRequest {
  region?: string;
}

export interface HeartbeatQuery extends PageRequest {
  /** Inclusive bounds on the time the heartbeat was received (ISO 8601). */
  from?: string;
  to?: string;
}

/** The edge the authorizer found for an edge key. */
export interface EdgeKeyOwner {
  edgeId: string;
  name: string;
}

/** What the edge service needs from persistence. Edge changes commit with their audit record and event; heartbeats are bookkeeping. */
export interface EdgeStore {
  /** Writes the edge and its key lookup item (emits `edge.created`). */
  createEdge(edge: EdgeRecord, keyHash: string): Promise<void>;
  /** The edge with its newest heartbeat, if it reported. */
  getEdge(id: string): Promise<{ edge: EdgeRecord; lastHeartbeat?: HeartbeatRecord } | undefined>;
  /** VersionConflictError / NotFoundError on a lost race (emits `edge.updated`). */
  replaceEdge(edge: EdgeRecord, expectedRevision: number): Promise<void>;
  /** Deletes the edge, its key lookup item (the key stops working) and its assignment (emits `edge.deleted`); heartbeats expire by TTL. */
  deleteEdge(id: string, expectedRevision: number): Promise<void>;
  listEdges(query: EdgeQuery): Promise<Page<{ edge: EdgeRecord; lastHeartbeat?: HeartbeatRecord }>>;
  /** Stores a heartbeat and makes it the edge's newest; NotFoundError if the edge is gone. */
  recordHeartbeat(record: HeartbeatRecord): Promise<void>;
  /** Newest first. */
  listHeartbeats(edgeId: string, query: HeartbeatQuery): Promise<Page<HeartbeatRecord>>;
  getAssignment(edgeId: string): Promise<EdgeAssignment | undefined>;
  findEdgeByKeyHash(hash: string): Promise<EdgeKeyOwner | undefined>;
}

/**
 * The content of a configuration version. The configurations feature owns
 * those items; desired-config only needs this one read, so it stays behind a
 * port (shared/store/edge-store.ts has the DynamoDB reader).
 */
export interface ConfigurationContentReader {
  versionContent(configurationId: string, version: number): Promise<JsonObject | undefined>;
}

export interface EdgeKeys {
  generate(): string;
  hash(key: string): string;
}

export interface UpdateEdgeInput {
  revision?: number;
  name?: string;
  region?: string;
  continent?: string;
  tags?: Record<string, string>;
}

export class EdgeService {
  constructor(
    private readonly store: EdgeStore,
    private readonly contents: ConfigurationContentReader,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly edgeKeys: EdgeKeys,
    private readonly health: HealthConfig = DEFAULT_HEALTH,
  ) {}

  /** Returns the edge key once; only its hash is stored. */
  async create(input: CreateEdgeInput): Promise<EdgeView & { edgeKey: string }> {
    const valid = validateEdgeInput(input);
    const now = this.clock.now();
    const edge: EdgeRecord = {
      id: this.ids.next(),
      name: valid.name,
      region: valid.region,
      continent: valid.continent,
      tags: valid.tags ?? {},
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    const edgeKey = this.edgeKeys.generate();
    await this.store.createEdge(edge, this.edgeKeys.hash(edgeKey));
    return { ...this.view(edge), edgeKey };
  }

  async get(id: string): Promise<EdgeView> {
    const found = await this.store.getEdge(id);
    if (!found) throw new NotFoundError('EdgeLocation', id);
    return this.view(found.edge, found.lastHeartbeat);
  }

  async list(query: EdgeQuery): Promise<Page<EdgeView>> {
    const page = await this.store.listEdges(query);
    return { ...page, items: page.items.map((found) => this.view(found.edge, found.lastHeartbeat)) };
  }

  async update(id: string, input: UpdateEdgeInput, ifMatch?: string): Promise<EdgeView> {
    const found = await this.store.getEdge(id);
    if (!found) throw new NotFoundError('EdgeLocation', id);
    const current = found.edge;
    const expected = writableRevision('EdgeLocation', current, input.revision, ifMatch);
    const merged = validateEdgeInput({
      name: input.name ?? current.name,
      region: input.region ?? current.region,
      continent: input.continent ?? current.continent,
      tags: input.tags ?? current.tags,
    });
    const next: EdgeRecord = {
      ...current,
      name: merged.name,
      region: merged.region,
      continent: merged.continent,
      tags: merged.tags ?? {},
      revision: current.revision + 1,
      updatedAt: this.clock.now(),
    };
    await this.store.replaceEdge(next, expected);
    return this.view(next, found.lastHeartbeat);
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const found = await this.store.getEdge(id);
    if (!found) throw new NotFoundError('EdgeLocation', id);
    await this.store.deleteEdge(id, writableRevision('EdgeLocation', found.edge, revision, ifMatch));
  }

  /** Stores a heartbeat received now (the server's clock, not the edge's: edges' clocks drift). */
  async heartbeat(edgeId: string, heartbeat: Heartbeat): Promise<HeartbeatRecord> {
    const record: HeartbeatRecord = { ...heartbeat, edgeId, at: this.clock.now() };
    await this.store.recordHeartbeat(record);
    return record;
  }

  /**
   * What the edge should run. NotFoundError when the edge does not exist, and
   * also (`DesiredConfig`) while nothing is assigned to it yet: an edge keeps
   * what it runs until a deployment assigns it a version.
   */
  async desiredConfig(edgeId: string): Promise<DesiredConfig> {
    const [found, assignment] = await Promise.all([this.store.getEdge(edgeId), this.store.getAssignment(edgeId)]);
    if (!found) throw new NotFoundError('EdgeLocation', edgeId);
    if (!assignment) throw new NotFoundError('DesiredConfig of EdgeLocation', edgeId);
    const content = await this.contents.versionContent(assignment.configurationId, assignment.version);
    if (!content) throw new NotFoundError(`Configuration ${assignment.configurationId} version`, String(assignment.version));
    return desiredConfig(assignment, content);
  }

  /** The edge's heartbeats received in [from, to], newest first. */
  async metrics(edgeId: string, query: HeartbeatQuery): Promise<Page<HeartbeatRecord>> {
    if (query.from !== undefined && query.to !== undefined && Date.parse(query.from) > Date.parse(query.to)) {
      throw new ValidationError('from is after to', [{ path: 'query.from', message: 'must not be after `to`' }]);
    }
    if (!(await this.store.getEdge(edgeId))) throw new NotFoundError('EdgeLocation', edgeId);
    const normalized = {
      ...query,
      ...(query.from !== undefined ? { from: new Date(query.from).toISOString() } : {}),
      ...(query.to !== undefined ? { to: new Date(query.to).toISOString() } : {}),
    };
    return this.store.listHeartbeats(edgeId, normalized);
  }

  private view(edge: EdgeRecord, lastHeartbeat?: HeartbeatRecord): EdgeView {
    return {
      ...edge,
      ...(lastHeartbeat ? { lastHeartbeatAt: lastHeartbeat.at, lastHeartbeat } : {}),
      health: edgeHealth(lastHeartbeat?.at, this.clock.now(), this.health),
    };
  }
}
