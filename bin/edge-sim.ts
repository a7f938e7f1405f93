#!/usr/bin/env node
/**
 * The fleet simulator (DESIGN.md §6, docs/edge-sim.md): registers N edge
 * locations over R regions (or reuses the ones it registered before), and
 * plays each one: polls its desired-config with If-None-Match, applies what
 * it gets (remembering what it served before) and posts heartbeats whose
 * metrics mix the new and the previous version by the assignment's weight.
 * A version whose content has `"simulate": {"errorRate": 0.2, "p95LatencyMs": 900}`
 * reports those figures, so a rollout of it fails its evaluation.
 *
 *   npm run edge-sim -- --edges 50 --regions 5
 *
 * Programmatic: `startFleet(options)` (tests, the demo). Uses Node's fetch only.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_STATE_DIR } from '../local/paths.js';
import { readLocalSession } from './session.js';

// ---- pure parts ---------------------------------------------------------------------------

/** AWS-style regions with their continents (DESIGN.md continent codes), in the order `--regions N` takes them. */
export const REGIONS: ReadonlyArray<{ region: string; continent: string }> = [
  { region: 'us-east-1', continent: 'NA' },
  { region: 'eu-west-1', continent: 'EU' },
  { region: 'ap-southeast-1', continent: 'AS' },
  { region: 'sa-east-1', continent: 'SA' },
  { region: 'ap-southeast-2', continent: 'OC' },
  { region: 'us-west-2', continent: 'NA' },
  { region: 'eu-central-1', continent: 'EU' },
  { region: 'ap-northeast-1', continent: 'AS' },
  { region: 'af-south-1', continent: 'AF' },
  { region: 'ca-central-1', continent: 'NA' },
  { region: 'eu-north-1', continent: 'EU' },
  { region: 'ap-south-1', continent: 'AS' },
];

export interface PlannedEdge {
  name: string;
  region: string;
  continent: string;
}

/** `<prefix>-1` … `<prefix>-<edges>`, spread round-robin over the first `regions` regions. */
export function planFleet(edges: number, regions: number, prefix: string): PlannedEdge[] {
  if (!Number.isInteger(edges) || edges < 1) throw new Error(`edges must be a positive whole number, got ${edges}`);
  if (!Number.isInteger(regions) || regions < 1 || regions > REGIONS.length)
    throw new Error(`regions must be from 1 to ${REGIONS.length}, got ${regions}`);
  return Array.from({ length: edges }, (_, i) => ({ name: `${prefix}-${i + 1}`, ...REGIONS[i % regions]! }));
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a version's content asks the simulator to report instead of healthy figures. */
export interface SimulateBlock {
  errorRate?: number;
  p95LatencyMs?: number;
}

/** The `simulate` block of a configuration's content; anything malformed (wrong type, out of range) is ignored, key by key. */
export function parseSimulate(content: unknown): SimulateBlock {
  if (content === null || typeof content !== 'object' || Array.isArray(content)) return {};
  const block = (content as Record<string, unknown>)['simulate'];
  if (block === null || typeof block !== 'object' || Array.isArray(block)) return {};
  const { errorRate, p95LatencyMs } = block as Record<string, unknown>;
  const out: SimulateBlock = {};
  if (typeof errorRate === 'number' && Number.isFinite(errorRate) && errorRate >= 0 && errorRate <= 1) out.errorRate = errorRate;
  if (typeof p95LatencyMs === 'number' && Number.isFinite(p95LatencyMs) && p95LatencyMs >= 0 && p95LatencyMs <= 3_600_000)
    out.p95LatencyMs = p95LatencyMs;
  return out;
}

export interface VersionMetrics {
  errorRate: number;
  p95LatencyMs: number;
  cacheHitRate: number;
}

const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
/** `value` ± `fraction` of it. */
const jiggle = (value: number, fraction: number, random: () => number) => value * (1 + (random() * 2 - 1) * fraction);

/**
 * One interval's figures for a version: healthy (error rate 0.5–1 %, p95
 * 40–80 ms, cache hits ~90 %) unless its simulate block says otherwise, then
 * those figures ± 5 %.
 */
export function versionMetrics(simulate: SimulateBlock, random: () => number): VersionMetrics {
  const errorRate = simulate.errorRate !== undefined ? clamp(jiggle(simulate.errorRate, 0.05, random), 0, 1) : 0.005 + random() * 0.005;
  const p95LatencyMs = simulate.p95LatencyMs !== undefined ? Math.max(0, jiggle(simulate.p95LatencyMs, 0.05, random)) : 40 + random() * 40;
  const cacheHitRate = clamp(0.9 + (random() * 2 - 1) * 0.03, 0, 1);
  return { errorRate, p95LatencyMs, cacheHitRate };
}

/** Traffic split `weight` % on `next`, the rest on `previous`: every figure is the weighted mean (p95 approximately so). */
export function mixMetrics(next: VersionMetrics, previous: VersionMetrics, weight: number): VersionMetrics {
  const w = clamp(weight, 0, 100) / 100;
  const mix = (a: number, b: number) => w * a + (1 - w) * b;
  return {
    errorRate: clamp(mix(next.errorRate, previous.errorRate), 0, 1),
    p95LatencyMs: Math.round(mix(next.p95LatencyMs, previous.p95LatencyMs) * 10) / 10,
    cacheHitRate: clamp(mix(next.cacheHitRate, previous.cacheHitRate), 0, 1),
  };
}

export interface ServedVersion {
  configurationId: string;
  version: number;
}

/** The version serving most of the traffic: the assigned one at weight ≥ 50, else the one before it (none if there was none). */
export function activeVersionOf(
  applied: (ServedVersion & { weight: number }) | undefined,
  previous: ServedVersion | undefined,
): ServedVersion | undefined {
  if (!applied) return undefined;
  if (applied.weight >= 50) return { configurationId: applied.configurationId, version: applied.version };
  return previous;
}

/** Requests served in one interval: a few hundred, scaled to the interval (2 s → 200–400). */
export function requestsFor(intervalMs: number, random: () => number): number {
  return Math.max(1, Math.round(((200 + random() * 200) * intervalMs) / 2000));
}

/** A Retry-After header (seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

// ---- the fleet ----------------------------------------------------------------------------

export interface FleetOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:3000 */
  api: string;
  /** An admin API key (registers and lists edges). */
  adminKey: string;
  /** Default 50. */
  edges?: number;
  /** Default 5 (the first N of REGIONS). */
  regions?: number;
  /** Edge names are `<prefix>-<n>`; default `sim`. */
  prefix?: string;
  /** desired-config poll interval; default 2000. */
  pollMs?: number;
  /** Heartbeat interval; default 2000. */
  heartbeatMs?: number;
  /** Seeds the metric noise and the loops' jitter (deterministic figures); default random. */
  seed?: number;
  /** Reuse edges named `<prefix>-<n>` whose keys the key file has; default true. false re-creates them all. */
  reuse?: boolean;
  /** Where the edge keys are kept; default `.switchyard/edge-sim/<prefix>.json`. */
  keyFile?: string;
  /** Progress and notices (re-created edges…); default silent. */
  log?: (line: string) => void;
}

export interface FleetEdge {
  id: string;
  name: string;
  region: string;
  continent: string;
}

export interface EdgeSnapshot extends FleetEdge {
  /** What the edge applied from its desired-config; undefined while nothing is assigned (404). */
  applied?: { configurationId: string; version: number; weight: number };
  /** What it served before the applied version (the rest of its traffic when weight < 100). */
  previous?: ServedVersion;
  /** The version it reports as active (majority of traffic). */
  active?: ServedVersion;
  heartbeatsSent: number;
  polls: number;
  errors: number;
  lastError?: string;
}

export interface Fleet {
  edges: FleetEdge[];
  snapshot(): EdgeSnapshot[];
  /** Region → label → edges; label `v<version>` of the active version, `–` for none. */
  versionsByRegion(): Record<string, Record<string, number>>;
  /** Resolves once `predicate(snapshot)` holds (checked every 50 ms); rejects after `timeoutMs`. */
  waitUntil(predicate: (snapshot: EdgeSnapshot[]) => boolean, timeoutMs: number): Promise<EdgeSnapshot[]>;
  /** Heartbeats and errors so far, over the whole fleet. */
  totals(): { heartbeats: number; polls: number; errors: number };
  /** Stops every loop and waits for requests in flight. */
  stop(): Promise<void>;
}

interface KeyFile {
  edges: Record<string, { id: string; edgeKey: string }>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

interface EdgeState {
  edge: FleetEdge;
  key: string;
  random: () => number;
  etag?: string;
  applied?: { configurationId: string; version: number; weight: number; simulate: SimulateBlock };
  previous?: ServedVersion & { simulate: SimulateBlock };
  heartbeatsSent: number;
  polls: number;
  errors: number;
  lastError?: string;
  /** No request before this time (a 429's Retry-After). */
  notBefore: number;
}

/** A heartbeat body for an edge's state: the mix of what it serves. */
export function heartbeatFor(
  applied: { configurationId: string; version: number; weight: number; simulate: SimulateBlock } | undefined,
  previous: (ServedVersion & { simulate: SimulateBlock }) | undefined,
  intervalMs: number,
  random: () => number,
): Record<string, unknown> {
  const requests = requestsFor(intervalMs, random);
  // The traffic not on the assigned version runs what the edge ran before: its previous version, or an unmanaged (healthy) one.
  const old = versionMetrics(previous?.simulate ?? {}, random);
  const metrics = applied ? mixMetrics(versionMetrics(applied.simulate, random), old, applied.weight) : old;
  const active = activeVersionOf(applied, previous);
  return {
    ...(active ? { configurationId: active.configurationId, activeVersion: active.version } : {}),
    requests,
    errorRate: Math.round(metrics.errorRate * 1e5) / 1e5,
    p95LatencyMs: Math.round(metrics.p95LatencyMs * 10) / 10,
    cacheHitRate: Math.round(metrics.cacheHitRate * 1e4) / 1e4,
  };
}

const DEFAULT_KEY_DIR = path.join(LOCAL_STATE_DIR, 'edge-sim');
const REQUEST_TIMEOUT_MS = 10_000;

function readKeyFile(file: string): KeyFile {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
    return parsed && typeof parsed.edges === 'object' ? parsed : { edges: {} };
  } catch {
    return { edges: {} };
  }
}

function writeKeyFile(file: string, keys: KeyFile): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

async function request(
  api: string,
  method: string,
  pathname: string,
  key: string,
  options: { json?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; etag: string | null }> {
  const response = await fetch(`${api}${pathname}`, {
    method,
    headers: {
      'X-API-Key': key,
      ...(options.json !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: response.status, body, etag: response.headers.get('etag') };
}

/** An admin call that must succeed (registration): a non-2xx answer throws with the problem's detail. */
async function adminCall(api: string, key: string, method: string, pathname: string, json?: unknown) {
  const reply = await request(api, method, pathname, key, json !== undefined ? { json } : {});
  if (reply.status >= 300) {
    const detail = (reply.body as { detail?: string } | undefined)?.detail ?? JSON.stringify(reply.body);
    throw new Error(`${method} ${pathname}: ${reply.status} ${detail}`);
  }
  return reply.body as Record<string, unknown>;
}

interface ListedEdge {
  id: string;
  name: string;
  region: string;
  revision: number;
}

/** Every edge (one listing, not one per region: an edge of this prefix may be in a region an earlier run with other --regions used). */
async function listEdges(api: string, key: string): Promise<ListedEdge[]> {
  const all: ListedEdge[] = [];
  let cursor: string | undefined;
  do {
    const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = (await adminCall(api, key, 'GET', `/api/v1/edge-locations?${query}`)) as { items: ListedEdge[]; nextCursor?: string };
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** Whether an edge key still opens its own desired-config (200 or 404 while unassigned; 401/403 once the edge or key is gone). */
async function keyWorks(api: string, id: string, edgeKey: string): Promise<boolean> {
  const reply = await request(api, 'GET', `/api/v1/edge-locations/${id}/desired-config`, edgeKey);
  return reply.status === 200 || reply.status === 404 || reply.status === 304;
}

/** Runs `tasks` with at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Registers (or reuses) the fleet's edges; answers each with its key, in plan order. */
async function register(
  options: Required<Pick<FleetOptions, 'api' | 'adminKey' | 'reuse'>> & { keyFile: string; log: (line: string) => void },
  plan: PlannedEdge[],
): Promise<Array<{ edge: FleetEdge; key: string }>> {
  const { api, adminKey, log, keyFile } = options;
  const keys = readKeyFile(keyFile);
  const names = new Set(plan.map((p) => p.name));
  const existing = new Map<string, ListedEdge[]>();
  for (const edge of await listEdges(api, adminKey)) {
    if (names.has(edge.name)) existing.set(edge.name, [...(existing.get(edge.name) ?? []), edge]);
  }
  const result: Array<{ edge: FleetEdge; key: string }> = new Array(plan.length);
  const counts = { reused: 0, created: 0, recreated: 0 };
  await pool(
    plan.map((p, i) => [p, i] as const),
    5,
    async ([planned, index]) => {
      const same = existing.get(planned.name) ?? [];
      const stored = keys.edges[planned.name];
      const match = stored ? same.find((e) => e.id === stored.id) : undefined;
      if (options.reuse && match && stored && match.region === planned.region && (await keyWorks(api, match.id, stored.edgeKey))) {
        result[index] = { edge: { id: match.id, ...planned }, key: stored.edgeKey };
        counts.reused++;
        return;
      }
      for (const old of same) {
        const why = !options.reuse
          ? 'reuse is off'
          : old.region !== planned.region
            ? `it is in ${old.region}, not ${planned.region}`
            : `its key is not in ${path.relative(process.cwd(), keyFile) || keyFile}`;
        log(`${planned.name} (${old.id}) exists but ${why}: deleting and creating it again`);
        const reply = await request(api, 'DELETE', `/api/v1/edge-locations/${old.id}?revision=${old.revision}`, adminKey);
        if (reply.status !== 204 && reply.status !== 404) throw new Error(`DELETE edge ${old.id}: ${reply.status}`);
      }
      const created = await adminCall(api, adminKey, 'POST', '/api/v1/edge-locations', {
        name: planned.name,
        region: planned.region,
        continent: planned.continent,
        tags: { simulator: 'edge-sim' },
      });
      const edge = { id: String(created.id), ...planned };
      keys.edges[planned.name] = { id: edge.id, edgeKey: String(created.edgeKey) };
      // Written after every create: a key that is not kept is lost for good.
      writeKeyFile(keyFile, keys);
      result[index] = { edge, key: String(created.edgeKey) };
      if (same.length > 0) counts.recreated++;
      else counts.created++;
    },
  );
  log(
    `edges: ${counts.reused} reused, ${counts.created} created, ${counts.recreated} re-created (keys in ${path.relative(process.cwd(), keyFile) || keyFile})`,
  );
  return result;
}

/** Registers the fleet and starts every edge's loops; resolves once all edges are registered. */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const api = options.api.replace(/\/+$/, '');
  const prefix = options.prefix ?? 'sim';
  if (!/^[a-z0-9][a-z0-9-]{0,100}$/i.test(prefix)) throw new Error(`prefix: letters, digits and dashes, got ${prefix}`);
  const pollMs = options.pollMs ?? 2000;
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const log = options.log ?? (() => undefined);
  const plan = planFleet(options.edges ?? 50, options.regions ?? 5, prefix);
  const keyFile = options.keyFile ?? path.join(DEFAULT_KEY_DIR, `${prefix}.json`);
  const registered = await register({ api, adminKey: options.adminKey, reuse: options.reuse ?? true, keyFile, log }, plan);

  const timing = seededRandom(seed ^ 0x5bd1e995);
  const states: EdgeState[] = registered.map(({ edge, key }, i) => ({
    edge,
    key,
    random: seededRandom((seed + (i + 1) * 0x9e3779b9) >>> 0),
    heartbeatsSent: 0,
    polls: 0,
    errors: 0,
    notBefore: 0,
  }));
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();

  const fail = (state: EdgeState, error: unknown) => {
    state.errors++;
    if (error instanceof HttpFailure) {
      state.lastError = error.message;
      if (error.retryAfter !== undefined) state.notBefore = Date.now() + error.retryAfter;
    } else {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      state.lastError = `${error instanceof Error ? error.message : String(error)}${cause ? ` (${cause})` : ''}`;
    }
  };

  const check = (reply: { status: number; body: unknown }, retryAfter: string | null, what: string) => {
    const detail = (reply.body as { detail?: string } | undefined)?.detail;
    return new HttpFailure(reply.status, `${what}: ${reply.status}${detail ? ` ${detail}` : ''}`, retryAfterMs(retryAfter));
  };

  const poll = async (state: EdgeState) => {
    const id = state.edge.id;
    const response = await fetch(`${api}/api/v1/edge-locations/${id}/desired-config`, {
      headers: { 'X-API-Key': state.key, ...(state.etag ? { 'If-None-Match': state.etag } : {}) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    state.polls++;
    if (response.status === 304) return;
    if (response.status === 404) {
      // Nothing assigned. An edge that had an assignment lost it to a rollback to "nothing managed": it goes back to
      // its unmanaged configuration (what it served before its first deployment), not on with the rolled-back version.
      state.etag = undefined;
      state.applied = undefined;
      state.previous = undefined;
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    if (response.status !== 200) throw check({ status: response.status, body }, response.headers.get('retry-after'), 'desired-config');
    const desired = body as { configurationId: string; version: number; weight: number; content: unknown; etag?: string };
    state.etag = response.headers.get('etag') ?? desired.etag;
    const applied = state.applied;
    // A new version (not just a new weight of the same one): what it served so far becomes its previous version.
    if (applied && (applied.configurationId !== desired.configurationId || applied.version !== desired.version)) {
      state.previous = { configurationId: applied.configurationId, version: applied.version, simulate: applied.simulate };
    }
    state.applied = {
      configurationId: desired.configurationId,
      version: desired.version,
      weight: desired.weight,
      simulate: parseSimulate(desired.content),
    };
  };

  const beat = async (state: EdgeState) => {
    const body = heartbeatFor(state.applied, state.previous, heartbeatMs, state.random);
    const response = await fetch(`${api}/api/v1/edge-locations/${state.edge.id}/heartbeat`, {
      method: 'POST',
      headers: { 'X-API-Key': state.key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status !== 202) {
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      throw check({ status: response.status, body: parsed }, response.headers.get('retry-after'), 'heartbeat');
    }
    state.heartbeatsSent++;
  };

  /** One loop: `step` every `periodMs` ± 10 %, first after a random part of a period, never two at once; failures are counted and the next tick retries. */
  const loop = (state: EdgeState, periodMs: number, step: (s: EdgeState) => Promise<void>) => {
    const schedule = (delay: number) => {
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopped) return;
        const wait = state.notBefore - Date.now();
        if (wait > 0) return schedule(wait + timing() * periodMs * 0.1);
        const run = step(state).catch((error: unknown) => fail(state, error));
        inFlight.add(run);
        void run.finally(() => {
          inFlight.delete(run);
          schedule(periodMs * (0.9 + timing() * 0.2));
        });
      }, delay);
      timers.add(timer);
    };
    schedule(timing() * periodMs);
  };

  for (const state of states) {
    loop(state, pollMs, poll);
    loop(state, heartbeatMs, beat);
  }

  const snapshot = (): EdgeSnapshot[] =>
    states.map((s) => {
      const active = activeVersionOf(s.applied, s.previous);
      return {
        ...s.edge,
        ...(s.applied
          ? { applied: { configurationId: s.applied.configurationId, version: s.applied.version, weight: s.applied.weight } }
          : {}),
        ...(s.previous ? { previous: { configurationId: s.previous.configurationId, version: s.previous.version } } : {}),
        ...(active ? { active: { configurationId: active.configurationId, version: active.version } } : {}),
        heartbeatsSent: s.heartbeatsSent,
        polls: s.polls,
        errors: s.errors,
        ...(s.lastError !== undefined ? { lastError: s.lastError } : {}),
      };
    });

  return {
    edges: states.map((s) => s.edge),
    snapshot,
    versionsByRegion: () => versionsByRegion(snapshot()),
    totals: () => ({
      heartbeats: states.reduce((n, s) => n + s.heartbeatsSent, 0),
      polls: states.reduce((n, s) => n + s.polls, 0),
      errors: states.reduce((n, s) => n + s.errors, 0),
    }),
    waitUntil: async (predicate, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = snapshot();
        if (predicate(now)) return now;
        if (Date.now() > deadline) throw new Error(`edge-sim: condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: async () => {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** Region → `v<active version>` (or `–`) → edges. */
export function versionsByRegion(snapshot: readonly EdgeSnapshot[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const edge of snapshot) {
    const label = edge.active ? `v${edge.active.version}` : '–';
    const region = (out[edge.region] ??= {});
    region[label] = (region[label] ?? 0) + 1;
  }
  return out;
}

/** `eu-west-1 v3×8 v2×2 –×0`: versions newest first, then the unassigned. */
export function progressLine(byRegion: Record<string, Record<string, number>>, heartbeatsPerSecond: number, errors: number): string {
  const regions = Object.entries(byRegion).map(([region, counts]) => {
    const versions = Object.keys(counts)
      .filter((l) => l !== '–')
      .sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)));
    return `${region} ${[...versions, '–'].map((l) => `${l}×${counts[l] ?? 0}`).join(' ')}`;
  });
  return `${regions.join(' | ')} | ${heartbeatsPerSecond.toFixed(1)} hb/s, ${errors} errors`;
}

// ---- CLI ------------------------------------------------------------------------------------

const USAGE = `usage: npm run edge-sim -- [--api URL] [--edges 50] [--regions 5] [--prefix sim]
                         [--poll-ms 2000] [--heartbeat-ms 2000] [--seed N] [--no-reuse]

Registers <prefix>-1…<prefix>-N edge locations spread over the first R regions
(${REGIONS.map((r) => r.region).join(', ')}),
polls their desired-config and posts their heartbeats until Ctrl-C.

  --api URL        the API (default: the running \`npm start\`, from .switchyard/session.json)
  --no-reuse       delete and re-create the edges even when their keys are kept
  The admin key comes from SWITCHYARD_API_KEY, else from .switchyard/session.json
  (never from the command line: it would show in \`ps\`). Edge keys are kept in
  .switchyard/edge-sim/<prefix>.json (0600). See docs/edge-sim.md.`;

async function main(argv: string[]): Promise<number> {
  if (argv.some((a) => a === '--key' || a.startsWith('--key=') || a === '--admin-key' || a.startsWith('--admin-key=')))
    throw new Error(
      'no --key: a key on the command line shows in `ps`; set SWITCHYARD_API_KEY, or let it come from the running `npm start`',
    );
  const { values } = parseArgs({
    args: argv,
    options: {
      api: { type: 'string' },
      edges: { type: 'string', default: '50' },
      regions: { type: 'string', default: '5' },
      prefix: { type: 'string', default: 'sim' },
      'poll-ms': { type: 'string', default: '2000' },
      'heartbeat-ms': { type: 'string', default: '2000' },
      seed: { type: 'string' },
      'no-reuse': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const whole = (flag: string, raw: string, min: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} wants a whole number from ${min}, got ${raw}`);
    return n;
  };
  const session = readLocalSession();
  const api = values.api ?? session?.url;
  if (!api) throw new Error('No --api and no running `npm start` (.switchyard/session.json): start one or pass --api');
  const adminKey =
    process.env.SWITCHYARD_API_KEY ??
    (session && (values.api === undefined || values.api === session.url) ? session.adminApiKey : undefined);
  if (!adminKey) throw new Error('No admin key: set SWITCHYARD_API_KEY (or run against the `npm start` whose session file has it)');
  const tty = process.stdout.isTTY === true;
  const log = (line: string) => (tty ? process.stdout.write(`\r\x1b[K${line}\n`) : console.log(line));
  log(`edge-sim: registering against ${api}…`);
  const fleet = await startFleet({
    api,
    adminKey,
    edges: whole('edges', values.edges, 1),
    regions: whole('regions', values.regions, 1),
    prefix: values.prefix,
    pollMs: whole('poll-ms', values['poll-ms'], 50),
    heartbeatMs: whole('heartbeat-ms', values['heartbeat-ms'], 50),
    ...(values.seed !== undefined ? { seed: whole('seed', values.seed, 0) } : {}),
    reuse: !values['no-reuse'],
    log: (line) => log(`edge-sim: ${line}`),
  });
  log(`edge-sim: ${fleet.edges.length} edges running (Ctrl-C stops)`);
  let last = { at: Date.now(), heartbeats: 0 };
  const progress = setInterval(() => {
    const totals = fleet.totals();
    const now = Date.now();
    const rate = ((totals.heartbeats - last.heartbeats) * 1000) / Math.max(1, now - last.at);
    last = { at: now, heartbeats: totals.heartbeats };
    const line = progressLine(fleet.versionsByRegion(), rate, totals.errors);
    if (tty) process.stdout.write(`\r\x1b[K${line.slice(0, (process.stdout.columns ?? 200) - 1)}`);
    else console.log(line);
  }, 2000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  clearInterval(progress);
  await fleet.stop();
  const totals = fleet.totals();
  log(`edge-sim: stopped (${totals.heartbeats} heartbeats, ${totals.polls} polls, ${totals.errors} errors)`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`edge-sim: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    },
  );
}
