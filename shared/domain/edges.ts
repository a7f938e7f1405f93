/**
 * Edge locations (DESIGN.md §4, §6; seed 003 story 1.2): what an edge is,
 * its health from the age of its last heartbeat, the heartbeat it posts and
 * the desired configuration it pulls. Pure: the store, the edge keys and the
 * clock are elsewhere.
 */
import { createHash } from 'node:crypto';
import { ValidationError, type FieldError } from './errors.js';
import type { JsonObject, Revisioned } from './model.js';

// ---- the entity -------------------------------------------------------------------

/**
 * Continents as two-letter codes (the ones GeoIP databases and CDN POP lists
 * use), so waves by continent group edges without spelling variants.
 */
export const CONTINENTS = ['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const;
export type Continent = (typeof CONTINENTS)[number];

export interface EdgeLocation extends Revisioned {
  name: string;
  /** e.g. `eu-west-1`; rolling-regional deploys one region per stage. */
  region: string;
  continent: Continent;
  /** Free key/value labels (`tier: gold`). */
  tags: Record<string, string>;
  /** The newest heartbeat's time; absent until the edge reports. */
  lastHeartbeatAt?: string;
  /** Health as last recorded (edgeHealth decides it; the store keeps it to detect transitions). */
  health: EdgeHealth;
}

export interface CreateEdgeInput {
  name: string;
  region: string;
  continent: string;
  tags?: Record<string, string>;
}

const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_TAGS = 50;

/** Rules on an edge's fields beyond their shapes; answers the input with the continent typed. */
export function validateEdgeInput(input: CreateEdgeInput): CreateEdgeInput & { continent: Continent } {
  const errors: FieldError[] = [];
  if (input.name.trim().length === 0 || input.name.length > 255) errors.push({ path: 'body.name', message: '1 to 255 characters' });
  if (!REGION.test(input.region))
    errors.push({ path: 'body.region', message: 'lower-case letters, digits and dashes (e.g. eu-west-1), at most 63' });
  if (!(CONTINENTS as readonly string[]).includes(input.continent))
    errors.push({ path: 'body.continent', message: `one of ${CONTINENTS.join(', ')}` });
  const tags = Object.entries(input.tags ?? {});
  if (tags.length > MAX_TAGS) errors.push({ path: 'body.tags', message: `at most ${MAX_TAGS} tags` });
  for (const [key, value] of tags) {
    if (key.length === 0 || key.length > 128 || typeof value !== 'string' || value.length > 256)
      errors.push({ path: `body.tags.${key}`, message: 'a key of 1 to 128 characters and a value of at most 256' });
  }
  if (errors.length > 0) throw new ValidationError('The edge location is not valid', errors);
  return input as CreateEdgeInput & { continent: Continent };
}

// ---- health ---------------------------------------------------------------------------

/** `unknown`: the edge has never sent a heartbeat. */
export type EdgeHealth = 'healthy' | 'unhealthy' | 'unknown';

export interface HealthConfig {
  /** How often an edge is expected to post a heartbeat. */
  heartbeatIntervalSeconds: number;
  /** Missed intervals after which it is unhealthy (DESIGN.md §6: three). */
  missedIntervals: number;
}

export const DEFAULT_HEALTH: HealthConfig = { heartbeatIntervalSeconds: 10, missedIntervals: 3 };

/**
 * An edge's health at `now`: unhealthy once its last heartbeat is more than
 * `missedIntervals` intervals old (strictly more: at exactly three intervals
 * the third heartbeat is only just due), healthy otherwise; unknown before
 * the first heartbeat. A heartbeat "from the future" (clock skew) counts as fresh.
 */
export function edgeHealth(lastHeartbeatAt: string | undefined, now: string, config: HealthConfig = DEFAULT_HEALTH): EdgeHealth {
  if (lastHeartbeatAt === undefined) return 'unknown';
  const ageMs = Date.parse(now) - Date.parse(lastHeartbeatAt);
  return ageMs > config.heartbeatIntervalSeconds * config.missedIntervals * 1000 ? 'unhealthy' : 'healthy';
}

export type EdgeHealthEvent = 'edge.healthy' | 'edge.unhealthy';

/**
 * The event a change of health emits (shared/domain/edge-health.ts applies it):
 * `edge.unhealthy` when an edge that reported goes quiet, whether it was
 * last recorded healthy or never recorded at all (it reported once, long
 * ago, before the job looked); `edge.healthy` when an unhealthy edge reports
 * again. An edge's first healthy observation (`unknown` → `healthy`) is
 * recorded without an event: `edge.healthy` means "recovered", and the first
 * run of the job over a fleet does not announce every edge. Nothing when the
 * health did not change, so a job that runs every minute emits each
 * transition once.
 */
export function healthTransition(previous: EdgeHealth, next: EdgeHealth): EdgeHealthEvent | undefined {
  if (previous === next) return undefined;
  if (next === 'unhealthy') return 'edge.unhealthy';
  if (next === 'healthy') return previous === 'unhealthy' ? 'edge.healthy' : undefined;
  return undefined;
}

/** The moment an edge that last reported at `lastHeartbeatAt` turns unhealthy, for a sweeper that schedules its next look. */
export function unhealthyAfter(lastHeartbeatAt: string, config: HealthConfig = DEFAULT_HEALTH): string {
  return new Date(Date.parse(lastHeartbeatAt) + config.heartbeatIntervalSeconds * config.missedIntervals * 1000 + 1).toISOString();
}

// ---- heartbeats -------------------------------------------------------------------------

/**
 * `POST /edge-locations/{id}/heartbeat` (DESIGN.md §6). `configurationId`
 * and `activeVersion` come together or not at all: an edge that nothing was
 * assigned to yet still reports, so its health is known before its first
 * deployment.
 */
export interface Heartbeat {
  /** The configuration serving most of the edge's traffic; absent while nothing is assigned. */
  configurationId?: string;
  /** Its version; present exactly when `configurationId` is. */
  activeVersion?: number;
  /** Requests served since the previous heartbeat. */
  requests: number;
  /** 0–1 over those requests. */
  errorRate: number;
  p95LatencyMs: number;
  /** 0–1. */
  cacheHitRate: number;
}

/** A heartbeat as stored: which edge, when. */
export interface HeartbeatRecord extends Heartbeat {
  edgeId: string;
  at: string;
}

const LIMITS = { maxRequests: 1e12, maxLatencyMs: 3_600_000 } as const;

/**
 * Checks a heartbeat body (unknown: it comes from an edge, not a person) and
 * answers it typed, or throws a ValidationError listing every bad field.
 * Rates are fractions 0–1, not percentages; latency is capped at an hour so
 * one broken reading cannot dominate an evaluation.
 */
export function validateHeartbeat(body: unknown): Heartbeat {
  const errors: FieldError[] = [];
  const b = (body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  if (b !== body) errors.push({ path: 'body', message: 'must be a JSON object' });
  const known = new Set(['configurationId', 'activeVersion', 'requests', 'errorRate', 'p95LatencyMs', 'cacheHitRate']);
  for (const key of Object.keys(b)) if (!known.has(key)) errors.push({ path: `body.${key}`, message: 'unknown field' });
  const num = (key: string, ok: (n: number) => boolean, rule: string): void => {
    const v = b[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) errors.push({ path: `body.${key}`, message: rule });
  };
  // Both or neither: the one that is missing is the field named.
  const configurationId = b['configurationId'];
  const hasConfiguration = configurationId !== undefined;
  const hasVersion = b['activeVersion'] !== undefined;
  if (hasConfiguration && (typeof configurationId !== 'string' || configurationId.length === 0 || configurationId.length > 200))
    errors.push({ path: 'body.configurationId', message: 'a configuration id' });
  if (hasVersion) num('activeVersion', (n) => Number.isInteger(n) && n >= 1, 'a whole number from 1');
  if (hasConfiguration && !hasVersion) errors.push({ path: 'body.activeVersion', message: 'required with configurationId' });
  if (hasVersion && !hasConfiguration) errors.push({ path: 'body.configurationId', message: 'required with activeVersion' });
  num('requests', (n) => Number.isInteger(n) && n >= 0 && n <= LIMITS.maxRequests, 'a whole number from 0');
  num('errorRate', (n) => n >= 0 && n <= 1, 'a fraction from 0 to 1');
  num('p95LatencyMs', (n) => n >= 0 && n <= LIMITS.maxLatencyMs, `milliseconds from 0 to ${LIMITS.maxLatencyMs}`);
  num('cacheHitRate', (n) => n >= 0 && n <= 1, 'a fraction from 0 to 1');
  if (errors.length > 0) throw new ValidationError('The heartbeat is not valid', errors);
  return {
    ...(hasConfiguration ? { configurationId: configurationId as string, activeVersion: b['activeVersion'] as number } : {}),
    requests: b['requests'] as number,
    errorRate: b['errorRate'] as number,
    p95LatencyMs: b['p95LatencyMs'] as number,
    cacheHitRate: b['cacheHitRate'] as number,
  };
}

// ---- desired configuration ----------------------------------------------------------------

/** What one edge should run: set by a deployment's stages (and restored by its rollback). */
export interface EdgeAssignment {
  edgeId: string;
  configurationId: string;
  version: number;
  /** Percent of the edge's traffic on `version` (0–100); the rest stays on what it ran before. */
  weight: number;
  /** The deployment that set it, if any. */
  deploymentId?: string;
  updatedAt: string;
}

/** `GET /edge-locations/{id}/desired-config` (DESIGN.md §6). */
export interface DesiredConfig {
  configurationId: string;
  version: number;
  weight: number;
  content: JsonObject;
  /** Strong ETag; the edge sends it back as If-None-Match (304 when unchanged). */
  etag: string;
}

/** JSON with object keys sorted at every level, so equal values serialize equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The desired-config answer for an assignment and its version's content.
 * The ETag is a hash of what the edge would apply (configuration, version,
 * weight and content, canonically serialized): the same on every Lambda and
 * after every restart, and different as soon as any of them changes.
 */
export function desiredConfig(
  assignment: Pick<EdgeAssignment, 'configurationId' | 'version' | 'weight'>,
  content: JsonObject,
): DesiredConfig {
  const body = { configurationId: assignment.configurationId, version: assignment.version, weight: assignment.weight, content };
  const hash = createHash('sha256').update(canonicalJson(body)).digest('base64url').slice(0, 27);
  return { ...body, etag: `"${hash}"` };
}

/**
 * Whether an If-None-Match header matches `etag` (RFC 9110 §13.1.2: weak
 * comparison, a list of tags, or `*`), so the answer is 304.
 */
export function ifNoneMatchHits(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const header = ifNoneMatch.trim();
  if (header === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
