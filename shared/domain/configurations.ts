/**
 * Edge configurations (DESIGN.md §4, §6; seed 003 epic 3): a configuration is
 * a name and a line of immutable versions. `POST` makes version 1, every
 * `PUT` makes version n+1, and a version's content and schema never change
 * afterwards; the only thing ever added to a stored version is its approval,
 * written once. No I/O: persistence is the ConfigurationStore port.
 */
import { createPatch, type Operation } from 'rfc6902';
import { satisfies, type Role } from '../auth/roles.js';
import { ForbiddenError, NotFoundError, RuleViolationError, ValidationError, type FieldError } from './errors.js';
import { schemaProblem, UnusableSchemaError, validatePayload } from './json-schema.js';
import type { JsonObject, Page, PageRequest, Revisioned } from './model.js';
import type { Clock, IdGenerator } from './ports.js';
import { writableRevision } from './revisions.js';

// ---- entities -------------------------------------------------------------------

export interface Configuration extends Revisioned {
  name: string;
  description: string;
  /** The newest version number (1, 2, …). */
  latestVersion: number;
  /** The JSON Schema of the newest version, if it has one. */
  schema?: JsonObject;
  createdBy: string;
}

export interface ConfigurationVersion {
  configurationId: string;
  /** 1-based; version n+1 is made by the n-th update. */
  version: number;
  content: JsonObject;
  /**
   * The JSON Schema this version is validated against, copied onto the
   * version so that a later schema change never changes the verdict on an
   * old version. An update without a schema keeps the previous one.
   */
  schema?: JsonObject;
  /** Who made the version (user or key id); may not approve it. */
  author: string;
  createdAt: string;
  /** Set once by approve; never changed or cleared. */
  approvedBy?: string;
  approvedAt?: string;
}

/** Who is acting, as the domain needs it: an id and the roles held. */
export interface Actor {
  id: string;
  roles: readonly Role[];
}

// ---- validation -------------------------------------------------------------------

/** One thing wrong with a version's content; `path` is a dotted path into the content (`content.routes.0.path`). */
export interface ConfigurationProblem {
  code:
    | 'SCHEMA_MISMATCH'
    | 'SCHEMA_UNUSABLE'
    | 'CONTENT_TOO_LARGE'
    | 'CONTENT_TOO_DEEP'
    | 'FORBIDDEN_KEY'
    | 'REQUIRED_KEY_MISSING'
    | 'TTL_OUT_OF_RANGE'
    | 'DUPLICATE_ROUTE_PATH';
  path: string;
  message: string;
}

/**
 * The safety rules a version's content must meet besides its own schema.
 * Seed 003 (story 3.1) asks for "safety checks (TTL limits, rate limits,
 * etc.)" and "conflict detection (overlapping paths)" but names no figures,
 * so the defaults below are this project's:
 * - 256 KiB of JSON: the content travels in every desired-config answer and
 *   sits in one DynamoDB item (400 KB) beside its schema;
 * - 32 levels, as for receiver schemas (shared/domain/json-schema.ts);
 * - `__proto__`, `constructor` and `prototype` are refused at any depth: an
 *   edge that merges configuration objects in JavaScript would be open to
 *   prototype pollution;
 * - no key is required by default (a deployment may require some, e.g. `routes`);
 * - any number under a key named `ttl`, `ttlSeconds` or `…TtlSeconds` must be
 *   a whole number of seconds from 0 to one year (CDN caches cap TTLs there);
 * - the `path` of the entries of a top-level `routes` array must be unique
 *   (two routes for one path: which one wins is undefined on an edge).
 */
export interface ConfigurationRules {
  maxBytes: number;
  maxDepth: number;
  /** Refused as a key at any depth. */
  forbiddenKeys: readonly string[];
  /** Top-level keys every version must have. */
  requiredKeys: readonly string[];
  maxTtlSeconds: number;
}

export const DEFAULT_CONFIGURATION_RULES: ConfigurationRules = {
  maxBytes: 256 * 1024,
  maxDepth: 32,
  forbiddenKeys: ['__proto__', 'constructor', 'prototype'],
  requiredKeys: [],
  maxTtlSeconds: 365 * 24 * 3600,
};

const TTL_KEY = /^(ttl|ttlSeconds|.+TtlSeconds)$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Walks the content iteratively (a hostile body cannot overflow the stack), reporting key rules; stops at maxDepth. */
function walkContent(content: JsonObject, rules: ConfigurationRules, problems: ConfigurationProblem[]): void {
  const forbidden = new Set(rules.forbiddenKeys);
  const stack: Array<{ node: unknown; path: string; depth: number }> = [{ node: content, path: 'content', depth: 1 }];
  let tooDeep = false;
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > rules.maxDepth) {
      tooDeep = true;
      continue;
    }
    // Own keys, including a `__proto__` that JSON.parse made an own property.
    for (const key of Object.keys(node)) {
      const child = (node as Record<string, unknown>)[key];
      const at = `${path}.${key}`;
      if (forbidden.has(key) && !Array.isArray(node)) {
        problems.push({ code: 'FORBIDDEN_KEY', path: at, message: `the key ${key} is not allowed` });
      }
      if (!Array.isArray(node) && TTL_KEY.test(key) && typeof child === 'number') {
        if (!Number.isInteger(child) || child < 0 || child > rules.maxTtlSeconds) {
          problems.push({ code: 'TTL_OUT_OF_RANGE', path: at, message: `must be whole seconds from 0 to ${rules.maxTtlSeconds}` });
        }
      }
      stack.push({ node: child, path: at, depth: depth + 1 });
    }
  }
  if (tooDeep) problems.push({ code: 'CONTENT_TOO_DEEP', path: 'content', message: `must nest at most ${rules.maxDepth} levels deep` });
}

function duplicateRoutePaths(content: JsonObject, problems: ConfigurationProblem[]): void {
  const routes = content['routes'];
  if (!Array.isArray(routes)) return;
  const seen = new Map<string, number>();
  routes.forEach((route, index) => {
    if (!isObject(route) || typeof route['path'] !== 'string') return;
    const first = seen.get(route['path']);
    if (first === undefined) seen.set(route['path'], index);
    else
      problems.push({
        code: 'DUPLICATE_ROUTE_PATH',
        path: `content.routes.${index}.path`,
        message: `${route['path']} is already routed by content.routes.${first}`,
      });
  });
}

/**
 * Everything wrong with a version: the safety rules, then its own JSON
 * Schema (if it has one). An empty list means valid. Never throws for bad
 * content; a stored schema that no longer compiles is a SCHEMA_UNUSABLE problem.
 */
export function validateVersion(
  version: Pick<ConfigurationVersion, 'content' | 'schema'>,
  rules: ConfigurationRules = DEFAULT_CONFIGURATION_RULES,
): ConfigurationProblem[] {
  const problems: ConfigurationProblem[] = [];
  const bytes = Buffer.byteLength(JSON.stringify(version.content), 'utf8');
  if (bytes > rules.maxBytes) {
    problems.push({ code: 'CONTENT_TOO_LARGE', path: 'content', message: `is ${bytes} bytes of JSON; the limit is ${rules.maxBytes}` });
  }
  walkContent(version.content, rules, problems);
  // Own keys only: `constructor` must not count as present because every object inherits one.
  for (const key of rules.requiredKeys) {
    if (!Object.prototype.hasOwnProperty.call(version.content, key)) {
      problems.push({ code: 'REQUIRED_KEY_MISSING', path: `content.${key}`, message: 'is required' });
    }
  }
  duplicateRoutePaths(version.content, problems);
  // The schema only when the content is within the limits: ajv should not walk a hostile body.
  const withinLimits = !problems.some((p) => p.code === 'CONTENT_TOO_LARGE' || p.code === 'CONTENT_TOO_DEEP');
  if (version.schema && withinLimits) {
    try {
      for (const error of validatePayload(version.schema, version.content)) {
        problems.push({ code: 'SCHEMA_MISMATCH', path: error.path.replace(/^body\.payload/, 'content'), message: error.message });
      }
    } catch (error) {
      if (!(error instanceof UnusableSchemaError)) throw error;
      problems.push({ code: 'SCHEMA_UNUSABLE', path: 'schema', message: error.message });
    }
  }
  return problems;
}

function problemsAsFieldErrors(problems: readonly ConfigurationProblem[]): FieldError[] {
  return problems.map((p) => ({ path: p.path, message: `${p.message} (${p.code})` }));
}

/** A schema given on create or update must compile (400 otherwise, as for receivers). */
function assertSchemaCompiles(schema: JsonObject | undefined): void {
  if (!schema) return;
  const problem = schemaProblem(schema);
  if (problem) throw new ValidationError(problem.message, problem.errors, problem.code);
}

// ---- approval and deployability ---------------------------------------------------

/**
 * The version after approval by `actor`, or the version itself when it is
 * already approved (idempotent: whoever approved first stays on record).
 * Refuses: an actor below operator (403), the version's author (422
 * SELF_APPROVAL: four eyes), a version with problems (422 CONFIGURATION_INVALID,
 * the problems as field errors).
 */
export function approveVersion(
  version: ConfigurationVersion,
  actor: Actor,
  now: string,
  rules: ConfigurationRules = DEFAULT_CONFIGURATION_RULES,
): { version: ConfigurationVersion; changed: boolean } {
  if (!satisfies(actor.roles, 'operator')) throw new ForbiddenError('operator');
  if (version.approvedBy !== undefined) return { version, changed: false };
  if (actor.id === version.author) {
    throw new RuleViolationError(
      `Version ${version.version} of configuration ${version.configurationId} was made by you; another operator must approve it`,
      'SELF_APPROVAL',
    );
  }
  const problems = validateVersion(version, rules);
  if (problems.length > 0) {
    throw new RuleViolationError(
      `Version ${version.version} of configuration ${version.configurationId} is not valid and cannot be approved`,
      'CONFIGURATION_INVALID',
      problemsAsFieldErrors(problems),
    );
  }
  return { version: { ...version, approvedBy: actor.id, approvedAt: now }, changed: true };
}

/** The RFC 6902 patch that turns `from`'s content into `to`'s. */
export function diffVersions(from: Pick<ConfigurationVersion, 'content'>, to: Pick<ConfigurationVersion, 'content'>): Operation[] {
  return createPatch(from.content, to.content);
}

// ---- the store port and the service ----------------------------------------------------

/** Configuration changes, as the event types the store emits for them (the lead adds them to shared/events/types.ts). */
export type ConfigurationChange =
  'configuration.created' | 'configuration.version_created' | 'configuration.approved' | 'configuration.deleted';

/**
 * What the configuration service needs from persistence. Each write commits
 * the event it names and its audit record in the same transaction (DESIGN.md §5).
 */
export interface ConfigurationStore {
  /** The configuration and its version 1 together; AlreadyExistsError if the id (or name) is taken. */
  createConfiguration(configuration: Configuration, first: ConfigurationVersion, change: 'configuration.created'): Promise<void>;
  getConfiguration(id: string): Promise<Configuration | undefined>;
  listConfigurations(page: PageRequest): Promise<Page<Configuration>>;
  /**
   * Writes `configuration` (now at `version.version`) and the new version, if
   * the stored configuration is still at `expectedRevision` (else
   * VersionConflictError) and no version with that number exists.
   */
  addVersion(
    configuration: Configuration,
    version: ConfigurationVersion,
    expectedRevision: number,
    change: 'configuration.version_created',
  ): Promise<void>;
  getVersion(configurationId: string, version: number): Promise<ConfigurationVersion | undefined>;
  /** Newest first. */
  listVersions(configurationId: string, page: PageRequest): Promise<Page<ConfigurationVersion>>;
  /**
   * Sets approvedBy/approvedAt on a version that has none (a conditional
   * write: attribute_not_exists(approvedBy)); answers the stored version, the
   * first approval if another one won the race.
   */
  approveVersion(
    configurationId: string,
    version: number,
    approval: { approvedBy: string; approvedAt: string },
    change: 'configuration.approved',
  ): Promise<ConfigurationVersion>;
  /** Deletes the configuration and its versions at `expectedRevision`; RuleViolationError CONFIGURATION_IN_USE while a deployment uses it. */
  deleteConfiguration(id: string, expectedRevision: number, change: 'configuration.deleted'): Promise<void>;
}

export interface CreateConfigurationInput {
  name: string;
  description?: string;
  content: JsonObject;
  schema?: JsonObject;
}

export interface UpdateConfigurationInput {
  revision?: number;
  content: JsonObject;
  /** Replaces the schema from this version on; absent keeps the previous version's. */
  schema?: JsonObject;
  description?: string;
}

export class ConfigurationService {
  constructor(
    private readonly store: ConfigurationStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly rules: ConfigurationRules = DEFAULT_CONFIGURATION_RULES,
  ) {}

  /**
   * Version 1. An invalid content is stored (it can be fixed by the next
   * version, and `validate` says what is wrong); only a schema that does not
   * compile, or content over the size or depth limit, is refused (400).
   */
  async create(input: CreateConfigurationInput, author: string): Promise<{ configuration: Configuration; version: ConfigurationVersion }> {
    assertSchemaCompiles(input.schema);
    this.assertStorable(input.content);
    const now = this.clock.now();
    const id = this.ids.next();
    const configuration: Configuration = {
      id,
      name: input.name,
      description: input.description ?? '',
      latestVersion: 1,
      ...(input.schema ? { schema: input.schema } : {}),
      createdBy: author,
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    const version: ConfigurationVersion = {
      configurationId: id,
      version: 1,
      content: input.content,
      ...(input.schema ? { schema: input.schema } : {}),
      author,
      createdAt: now,
    };
    await this.store.createConfiguration(configuration, version, 'configuration.created');
    return { configuration, version };
  }

  /** `PUT`: version n+1, conditional on the revision the caller read. */
  async update(
    id: string,
    input: UpdateConfigurationInput,
    author: string,
    ifMatch?: string,
  ): Promise<{ configuration: Configuration; version: ConfigurationVersion }> {
    const current = await this.get(id);
    const expected = writableRevision('Configuration', current, input.revision, ifMatch);
    assertSchemaCompiles(input.schema);
    this.assertStorable(input.content);
    const schema = input.schema ?? current.schema;
    const now = this.clock.now();
    const number = current.latestVersion + 1;
    const version: ConfigurationVersion = {
      configurationId: id,
      version: number,
      content: input.content,
      ...(schema ? { schema } : {}),
      author,
      createdAt: now,
    };
    const configuration: Configuration = {
      ...current,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(schema ? { schema } : {}),
      latestVersion: number,
      revision: current.revision + 1,
      updatedAt: now,
    };
    await this.store.addVersion(configuration, version, expected, 'configuration.version_created');
    return { configuration, version };
  }

  async get(id: string): Promise<Configuration> {
    const configuration = await this.store.getConfiguration(id);
    if (!configuration) throw new NotFoundError('Configuration', id);
    return configuration;
  }

  list(page: PageRequest): Promise<Page<Configuration>> {
    return this.store.listConfigurations(page);
  }

  async getVersion(id: string, version: number): Promise<ConfigurationVersion> {
    checkVersionNumber(version, 'path.version');
    // The configuration too: a deleted configuration's versions are removed after it, and must not be read meanwhile.
    const [configuration, found] = await Promise.all([this.store.getConfiguration(id), this.store.getVersion(id, version)]);
    if (!configuration) throw new NotFoundError('Configuration', id);
    if (!found) throw new NotFoundError('ConfigurationVersion', `${id}@${version}`);
    return found;
  }

  async listVersions(id: string, page: PageRequest): Promise<Page<ConfigurationVersion>> {
    await this.get(id);
    return this.store.listVersions(id, page);
  }

  /** `POST {id}/validate`: the problems with a version (default: the newest); `valid` when there are none. */
  async validate(id: string, version?: number): Promise<{ version: number; valid: boolean; problems: ConfigurationProblem[] }> {
    const number = version ?? (await this.get(id)).latestVersion;
    const found = await this.getVersion(id, number);
    const problems = validateVersion(found, this.rules);
    return { version: number, valid: problems.length === 0, problems };
  }

  /** `POST {id}/versions/{v}/approve` (and `POST {id}/approve` for the newest). Idempotent: approving an approved version writes nothing. */
  async approve(id: string, version: number | undefined, actor: Actor): Promise<ConfigurationVersion> {
    const number = version ?? (await this.get(id)).latestVersion;
    const found = await this.getVersion(id, number);
    const { version: approved, changed } = approveVersion(found, actor, this.clock.now(), this.rules);
    if (!changed) return approved;
    return this.store.approveVersion(
      id,
      number,
      { approvedBy: approved.approvedBy!, approvedAt: approved.approvedAt! },
      'configuration.approved',
    );
  }

  /** `GET {id}/diff?from=&to=`: the RFC 6902 patch from one version's content to another's. */
  async diff(id: string, from: number, to: number): Promise<{ from: number; to: number; patch: Operation[] }> {
    checkVersionNumber(from, 'query.from');
    checkVersionNumber(to, 'query.to');
    const [a, b] = await Promise.all([this.getVersion(id, from), this.getVersion(id, to)]);
    return { from, to, patch: diffVersions(a, b) };
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const current = await this.get(id);
    const expected = writableRevision('Configuration', current, revision, ifMatch);
    await this.store.deleteConfiguration(id, expected, 'configuration.deleted');
  }

  /** Content over the size or depth limit is not stored at all (400); other problems are stored and reported by validate. */
  private assertStorable(content: JsonObject): void {
    const limits = validateVersion({ content }, { ...this.rules, forbiddenKeys: [], requiredKeys: [] }).filter(
      (p) => p.code === 'CONTENT_TOO_LARGE' || p.code === 'CONTENT_TOO_DEEP',
    );
    if (limits.length > 0) {
      throw new ValidationError(
        'content is too large or too deep',
        limits.map((p) => ({ path: `body.${p.path}`, message: p.message })),
        limits[0]!.code,
      );
    }
  }
}

function checkVersionNumber(version: number, path: string): void {
  if (!Number.isInteger(version) || version < 1) {
    throw new ValidationError('A version is a whole number from 1', [{ path, message: 'a whole number from 1' }]);
  }
}
