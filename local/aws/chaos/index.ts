/**
 * Faults on demand at the one AWS endpoint (DESIGN.md §7):
 *
 *   PUT    <endpoint>/_switchyard/chaos   [{"service":"events","operation":"PutEvents","probability":0.5,"error":"InternalFailure"}]
 *                                         or {"seed": 42, "rules": [...]} for a repeatable sequence
 *   GET    <endpoint>/_switchyard/chaos   the rules, with calls seen and faults injected per rule
 *   DELETE <endpoint>/_switchyard/chaos   no more faults
 *
 * and `npm start -- --chaos events:PutEvents=0.5[:ErrorCode]` at start.
 * The endpoint asks `intercept(call)` before serving any AWS call (JSON
 * protocol, proxied, or path-routed like Lambda's Invoke) and answers the
 * fault it returns instead: the AWS error code, status and body, so the SDK
 * retries it or not as it would the real one.
 */
import type { HttpRouteRequest, HttpRouteResponse } from '../endpoint.js';
import { CHAOS_SERVICES, errorCodesOf, faultFor, type AwsCall, type ChaosFault } from './faults.js';

export { callOfRestRequest, callOfTarget, CHAOS_SERVICES, type AwsCall, type ChaosFault } from './faults.js';

/** The path of the room's HTTP interface on the AWS endpoint. */
export const CHAOS_PATH = '/_switchyard/chaos';

export interface ChaosRule {
  /** `events`, `sqs`, `dynamodb`, `lambda`, … or `*`. */
  service: string;
  /** `PutEvents`, … or `*` (the default). */
  operation: string;
  /** 0 to 1: the fraction of matching calls that fail. */
  probability: number;
  /** The AWS error code; default `InternalFailure`. */
  error: string;
  /** Fail at most this many calls, then let the rest through (e.g. 1: only the first attempt fails). */
  times?: number;
}

export interface ChaosRuleStatus extends ChaosRule {
  /** Matching calls seen since the rule was set. */
  calls: number;
  /** Of those, the calls failed. */
  faults: number;
}

/** Rules that cannot be used; the message says which and why. */
export class ChaosRulesError extends Error {
  override readonly name = 'ChaosRulesError';
}

const RULE_KEYS = new Set(['service', 'operation', 'probability', 'error', 'times']);

function validateRule(input: unknown, where: string): ChaosRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new ChaosRulesError(`${where}: a rule is a JSON object`);
  const rule = input as Record<string, unknown>;
  const unknown = Object.keys(rule).filter((key) => !RULE_KEYS.has(key));
  if (unknown.length > 0)
    throw new ChaosRulesError(`${where}: unknown field ${unknown.join(', ')} (a rule has ${[...RULE_KEYS].join(', ')})`);
  const { service, operation = '*', probability, error = 'InternalFailure', times } = rule;
  if (times !== undefined && (typeof times !== 'number' || !Number.isInteger(times) || times < 1)) {
    throw new ChaosRulesError(`${where}: times must be a whole number of at least 1, got ${JSON.stringify(times)}`);
  }
  if (typeof service !== 'string' || (service !== '*' && !CHAOS_SERVICES.includes(service))) {
    throw new ChaosRulesError(`${where}: service must be one of ${CHAOS_SERVICES.join(', ')} or *, got ${JSON.stringify(service)}`);
  }
  if (typeof operation !== 'string' || !/^(\*|[A-Za-z][A-Za-z0-9]*)$/.test(operation)) {
    throw new ChaosRulesError(
      `${where}: operation must be an API operation name such as PutEvents, or *, got ${JSON.stringify(operation)}`,
    );
  }
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
    throw new ChaosRulesError(`${where}: probability must be a number from 0 to 1, got ${JSON.stringify(probability)}`);
  }
  const codes = errorCodesOf(service);
  if (typeof error !== 'string' || !codes.includes(error)) {
    throw new ChaosRulesError(`${where}: error for ${service} must be one of ${codes.join(', ')}, got ${JSON.stringify(error)}`);
  }
  return { service, operation, probability, error, ...(times === undefined ? {} : { times: times as number }) };
}

/** A PUT body: an array of rules, or `{ "rules": [...], "seed": n }`. */
export function parseChaosRules(input: unknown): { rules: ChaosRule[]; seed?: number } {
  let list: unknown = input;
  let seed: number | undefined;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const body = input as Record<string, unknown>;
    const unknown = Object.keys(body).filter((key) => key !== 'rules' && key !== 'seed');
    if (unknown.length > 0)
      throw new ChaosRulesError(`unknown field ${unknown.join(', ')} (the body is an array of rules, or {"rules": [...], "seed": n})`);
    if (body.seed !== undefined) {
      if (typeof body.seed !== 'number' || !Number.isInteger(body.seed))
        throw new ChaosRulesError(`seed must be a whole number, got ${JSON.stringify(body.seed)}`);
      seed = body.seed;
    }
    list = body.rules;
  }
  if (!Array.isArray(list)) throw new ChaosRulesError('the body is an array of rules, or {"rules": [...], "seed": n}');
  return { rules: list.map((rule, index) => validateRule(rule, `rule ${index}`)), ...(seed === undefined ? {} : { seed }) };
}

/** `--chaos events:PutEvents=0.5`, `--chaos lambda:Invoke=1:TooManyRequestsException`, `--chaos sqs=0.1` (every operation). */
export function parseChaosFlag(flag: string): ChaosRule {
  const match = /^([^:=]+)(?::([^=]+))?=([^:]+)(?::(.+))?$/.exec(flag.trim());
  if (!match) throw new ChaosRulesError(`--chaos wants service:Operation=probability[:ErrorCode], e.g. events:PutEvents=0.5, got ${flag}`);
  const [, service, operation, probability, error] = match;
  // A probability that is not a number is passed on as text, so the error shows what was typed.
  const rule: Record<string, unknown> = { service, probability: Number.isNaN(Number(probability)) ? probability : Number(probability) };
  if (operation !== undefined) rule.operation = operation;
  if (error !== undefined) rule.error = error;
  return validateRule(rule, `--chaos ${flag}`);
}

/** mulberry32: a small seeded generator, so a seed replays the same faults. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosRoomOptions {
  rules?: readonly ChaosRule[];
  /** The random source (default Math.random; a PUT with a seed replaces it). */
  random?: () => number;
}

export class ChaosRoom {
  private rules: ChaosRuleStatus[] = [];
  private seed: number | undefined;
  private random: () => number;
  private readonly defaultRandom: () => number;

  constructor(options: ChaosRoomOptions = {}) {
    this.defaultRandom = options.random ?? Math.random;
    this.random = this.defaultRandom;
    if (options.rules) this.set(options.rules);
  }

  /** Replaces the rules (counts start again); with a seed, the random source too. */
  set(rules: readonly ChaosRule[], seed?: number): void {
    this.rules = rules.map((rule) => ({ ...rule, calls: 0, faults: 0 }));
    this.seed = seed;
    this.random = seed === undefined ? this.defaultRandom : seededRandom(seed);
  }

  clear(): void {
    this.rules = [];
  }

  status(): { rules: ChaosRuleStatus[]; seed?: number } {
    return { rules: this.rules.map((rule) => ({ ...rule })), ...(this.seed === undefined ? {} : { seed: this.seed }) };
  }

  /**
   * Called for every AWS call: the fault to answer instead, or undefined to
   * serve it. Every matching rule counts the call; the first that fires wins.
   */
  intercept(call: AwsCall): ChaosFault | undefined {
    if (this.rules.length === 0) return undefined;
    let fired: ChaosRuleStatus | undefined;
    for (const rule of this.rules) {
      if ((rule.service !== '*' && rule.service !== call.service) || (rule.operation !== '*' && rule.operation !== call.operation))
        continue;
      rule.calls++;
      // 0 and 1 draw nothing, so they do not shift a seeded sequence.
      if (rule.times !== undefined && rule.faults >= rule.times) continue;
      if (!fired && rule.probability > 0 && (rule.probability >= 1 || this.random() < rule.probability)) {
        rule.faults++;
        fired = rule;
      }
    }
    return fired ? faultFor(call.service, fired.error) : undefined;
  }

  /** The HTTP interface, served by the endpoint at `CHAOS_PATH`. */
  handle(request: HttpRouteRequest): HttpRouteResponse {
    const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpRouteResponse => ({
      statusCode,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: `${JSON.stringify(body)}\n`,
    });
    if (request.path.replace(/\/$/, '') !== CHAOS_PATH)
      return json(404, { error: 'NotFound', message: `No chaos resource at ${request.path}` });
    switch (request.method) {
      case 'GET':
        return json(200, this.status());
      case 'DELETE':
        this.clear();
        return json(200, this.status());
      case 'PUT': {
        let parsed: ReturnType<typeof parseChaosRules>;
        try {
          parsed = parseChaosRules(JSON.parse(request.body.toString('utf8')) as unknown);
        } catch (error) {
          const message = error instanceof SyntaxError ? `the body is not JSON: ${error.message}` : (error as Error).message;
          return json(400, { error: 'InvalidChaosRules', message });
        }
        this.set(parsed.rules, parsed.seed);
        return json(200, this.status());
      }
      default:
        return json(
          405,
          { error: 'MethodNotAllowed', message: `${request.method} is not supported; use GET, PUT or DELETE` },
          { Allow: 'GET, PUT, DELETE' },
        );
    }
  }
}
