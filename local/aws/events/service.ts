/**
 * A local Amazon EventBridge (DESIGN.md §7) behind the one AWS endpoint
 * (JSON 1.1, `X-Amz-Target: AWSEvents.<Operation>`), so handlers, the AWS CLI
 * and `@aws-sdk/client-eventbridge` use it unchanged: buses, rules (event
 * patterns and schedules), targets with input transformation, retries with
 * back-off and dead-letter queues, archives, TestEventPattern.
 *
 * Delivery: PutEvents answers first, then every enabled rule of the bus whose
 * pattern matches hands each of its targets the (transformed) event through
 * the one dispatcher, as an asynchronous invocation. A failed delivery is
 * retried with exponential back-off and jitter on the runtime's clock until
 * the target's RetryPolicy gives up (defaults: 185 retries, 24 hours), then
 * goes to the target's DeadLetterConfig queue with EventBridge's message
 * attributes, or is dropped with a warning. A target that does not exist is
 * not retried, as on AWS.
 *
 * State is in memory: the template recreates buses and rules on every start.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, ClockTimer } from '../../clock.js';
import { DispatchError, type DispatchOptions, type Dispatcher } from '../../dispatch.js';
import { compileEventPattern, InvalidEventPatternError, type EventPattern } from '../../patterns/index.js';
import { AwsServiceError, type AwsJsonService } from '../endpoint.js';
import { InvalidScheduleExpressionError, parseScheduleExpression, type Schedule } from './schedule.js';
import {
  evaluateJsonPath,
  InvalidJsonPathError,
  isoSeconds,
  isReservedVariable,
  targetPayload,
  type InputTransformer,
} from './transform.js';

export interface EventBridgeServiceOptions {
  region: string;
  accountId: string;
  clock: Clock;
  dispatcher: Dispatcher;
  /** Where dropped events and undeliverable dead letters are reported (default console.warn). */
  warn?: (message: string) => void;
}

/** An EventBridge event as targets receive it. */
export interface EventEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
  [key: string]: unknown;
}

export interface RetryPolicy {
  MaximumRetryAttempts?: number;
  MaximumEventAgeInSeconds?: number;
}

export interface Target {
  Id: string;
  Arn: string;
  RoleArn?: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: InputTransformer;
  RetryPolicy?: RetryPolicy;
  DeadLetterConfig?: { Arn?: string };
  [key: string]: unknown;
}

export type RuleState = 'ENABLED' | 'DISABLED' | 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';

export interface PutRuleInput {
  Name: string;
  EventBusName?: string;
  EventPattern?: string;
  ScheduleExpression?: string;
  State?: RuleState;
  Description?: string;
  RoleArn?: string;
}

/** Deliveries of one rule target, for tests and the CLI. */
export interface TargetStats {
  eventBusName: string;
  ruleName: string;
  targetId: string;
  targetArn: string;
  /** Events the rule matched (or schedule firings) for this target. */
  matched: number;
  delivered: number;
  /** Attempts after the first. */
  retried: number;
  deadLettered: number;
  /** Given up without a dead-letter queue, or the queue refused it. */
  dropped: number;
}

interface Rule {
  name: string;
  arn: string;
  busName: string;
  eventPattern?: string;
  matcher?: EventPattern;
  scheduleExpression?: string;
  schedule?: Schedule;
  timer?: ClockTimer;
  state: RuleState;
  description?: string;
  roleArn?: string;
  targets: Map<string, Target>;
}

interface Bus {
  name: string;
  arn: string;
  description?: string;
  createdAt: number;
  rules: Map<string, Rule>;
}

interface Archive {
  name: string;
  arn: string;
  sourceArn: string;
  description?: string;
  eventPattern?: string;
  matcher?: EventPattern;
  retentionDays: number;
  createdAt: number;
  events: EventEnvelope[];
  sizeBytes: number;
}

const DEFAULT_BUS = 'default';
const MAX_ENTRIES = 10;
/** PutEvents' limit on the entries of one request, sized as the EventBridge guide computes it. */
const MAX_REQUEST_BYTES = 256 * 1024;
const MAX_TARGETS_PER_RULE = 5;
export const DEFAULT_RETRY_POLICY = { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 } as const;
/** Back-off: 1 s doubling to 5 min, with jitter (AWS documents "exponential back-off and jitter", not the figures). */
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 300_000;
/** Longest single timer Node accepts (ms of real time); longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 30;
const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const BUS_NAME = /^[/.\-_A-Za-z0-9]{1,256}$/;
const TARGET_ID = /^[.\-_A-Za-z0-9]{1,64}$/;
/** Error codes a target that does not exist gets: no retry, straight to the dead-letter queue. */
const NOT_RETRIED = new Set(['UnsupportedTarget', 'ResourceNotFoundException', 'ResourceNotFound']);

type Input = Record<string, unknown>;

const validation = (message: string) => new AwsServiceError('ValidationException', message);
const notFound = (message: string) => new AwsServiceError('ResourceNotFoundException', message);

function optionalString(input: Input, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw validation(`${key} must be a string`);
  return value;
}

function requiredString(input: Input, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === '')
    throw validation(
      `1 validation error detected: Value null at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`,
    );
  return value;
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

/** `{ items, NextToken }` from an offset token. */
function page<T>(items: T[], input: Input): { items: T[]; nextToken?: string } {
  const start = Number(optionalString(input, 'NextToken') ?? 0) || 0;
  const limit = typeof input.Limit === 'number' && input.Limit > 0 ? input.Limit : 100;
  const slice = items.slice(start, start + limit);
  return start + limit < items.length ? { items: slice, nextToken: String(start + limit) } : { items: slice };
}

export class EventBridgeService implements AwsJsonService {
  readonly targetPrefix = 'AWSEvents';
  readonly jsonVersion = '1.1' as const;
  private readonly buses = new Map<string, Bus>();
  private readonly archives = new Map<string, Archive>();
  private readonly statsByTarget = new Map<string, TargetStats>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly warn: (message: string) => void;

  constructor(private readonly options: EventBridgeServiceOptions) {
    this.warn = options.warn ?? ((message) => console.warn(`switchyard: ${message}`));
    this.buses.set(DEFAULT_BUS, this.newBus(DEFAULT_BUS));
    // A rule target that is another bus: the event is put on that bus.
    options.dispatcher.register('events', async (arn, payload) => {
      this.putEventFromTarget(arn, payload);
      return {};
    });
  }

  // ---- ARNs and lookups ----

  busArn(name: string): string {
    return `arn:aws:events:${this.options.region}:${this.options.accountId}:event-bus/${name}`;
  }

  ruleArn(busName: string, ruleName: string): string {
    const path = busName === DEFAULT_BUS ? ruleName : `${busName}/${ruleName}`;
    return `arn:aws:events:${this.options.region}:${this.options.accountId}:rule/${path}`;
  }

  archiveArn(name: string): string {
    return `arn:aws:events:${this.options.region}:${this.options.accountId}:archive/${name}`;
  }

  /** A bus name from a name or an ARN (`arn:aws:events:…:event-bus/<name>`); absent = `default`. */
  private busNameOf(nameOrArn: string | undefined): string {
    if (nameOrArn === undefined || nameOrArn === '') return DEFAULT_BUS;
    if (nameOrArn.startsWith('arn:')) {
      const match = /:event-bus\/(.+)$/.exec(nameOrArn);
      if (!match) throw validation(`Parameter ${nameOrArn} is not valid. Reason: Provided Arn is not in correct format.`);
      return match[1] as string;
    }
    return nameOrArn;
  }

  private bus(nameOrArn: string | undefined): Bus {
    const name = this.busNameOf(nameOrArn);
    const bus = this.buses.get(name);
    if (!bus) throw notFound(`Event bus ${name} does not exist.`);
    return bus;
  }

  private rule(ruleName: string, busNameOrArn: string | undefined): Rule {
    const bus = this.bus(busNameOrArn);
    const rule = bus.rules.get(ruleName);
    if (!rule) throw notFound(`Rule ${ruleName} does not exist on EventBus ${bus.name}.`);
    return rule;
  }

  private newBus(name: string, description?: string): Bus {
    return { name, arn: this.busArn(name), createdAt: this.options.clock.now(), rules: new Map(), ...(description ? { description } : {}) };
  }

  private compile(pattern: string): EventPattern {
    try {
      return compileEventPattern(pattern);
    } catch (error) {
      if (error instanceof InvalidEventPatternError) throw new AwsServiceError('InvalidEventPatternException', error.message);
      throw error;
    }
  }

  // ---- the JSON protocol ----

  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'PutEvents':
        return this.putEvents(input);
      case 'CreateEventBus':
        return { EventBusArn: this.createEventBus(requiredString(input, 'Name'), optionalString(input, 'Description')) };
      case 'DescribeEventBus':
        return this.describeEventBus(input);
      case 'ListEventBuses':
        return this.listEventBuses(input);
      case 'DeleteEventBus':
        return this.deleteEventBus(requiredString(input, 'Name'));
      case 'PutRule':
        return { RuleArn: this.putRule(input as unknown as PutRuleInput) };
      case 'DescribeRule':
        return this.describeRule(input);
      case 'ListRules':
        return this.listRules(input);
      case 'DeleteRule':
        return this.deleteRule(input);
      case 'EnableRule':
      case 'DisableRule':
        this.setRuleState(
          requiredString(input, 'Name'),
          optionalString(input, 'EventBusName'),
          operation === 'EnableRule' ? 'ENABLED' : 'DISABLED',
        );
        return {};
      case 'PutTargets':
        return this.putTargets(requiredString(input, 'Rule'), optionalString(input, 'EventBusName'), input.Targets);
      case 'RemoveTargets':
        return this.removeTargets(input);
      case 'ListTargetsByRule':
        return this.listTargetsByRule(input);
      case 'TestEventPattern':
        return this.testEventPattern(input);
      case 'CreateArchive':
        return this.createArchive(input);
      case 'DescribeArchive':
        return this.describeArchive(requiredString(input, 'ArchiveName'));
      case 'ListArchives':
        return this.listArchives(input);
      default:
        throw new AwsServiceError('UnknownOperationException', `The local EventBridge does not implement ${operation}`);
    }
  }

  // ---- buses ----

  createEventBus(name: string, description?: string): string {
    if (!BUS_NAME.test(name) || name.startsWith('aws.')) throw validation(`Event bus name ${name} is not valid.`);
    if (this.buses.has(name)) throw new AwsServiceError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
    const bus = this.newBus(name, description);
    this.buses.set(name, bus);
    return bus.arn;
  }

  private describeBus(bus: Bus) {
    return {
      Name: bus.name,
      Arn: bus.arn,
      ...(bus.description ? { Description: bus.description } : {}),
      CreationTime: bus.createdAt / 1000,
      LastModifiedTime: bus.createdAt / 1000,
    };
  }

  private describeEventBus(input: Input) {
    return this.describeBus(this.bus(optionalString(input, 'Name')));
  }

  private listEventBuses(input: Input) {
    const prefix = optionalString(input, 'NamePrefix') ?? '';
    const buses = [...this.buses.values()].filter((bus) => bus.name.startsWith(prefix)).map((bus) => this.describeBus(bus));
    const { items, nextToken } = page(buses, input);
    return { EventBuses: items, ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  private deleteEventBus(name: string) {
    if (name === DEFAULT_BUS) throw validation('Cannot delete event bus default.');
    const bus = this.buses.get(name);
    if (!bus) return {};
    for (const rule of bus.rules.values()) rule.timer?.cancel();
    this.buses.delete(name);
    return {};
  }

  // ---- rules ----

  /** Creates or updates a rule (its targets stay); returns its ARN. */
  putRule(input: PutRuleInput): string {
    const name = requiredString(input as unknown as Input, 'Name');
    if (!RULE_NAME.test(name)) throw validation(`Rule name ${name} is not valid.`);
    const bus = this.bus(input.EventBusName);
    const eventPattern = input.EventPattern || undefined;
    const scheduleExpression = input.ScheduleExpression || undefined;
    if (!eventPattern && !scheduleExpression) throw validation('Parameter(s) EventPattern or ScheduleExpression must be specified.');
    if (scheduleExpression && bus.name !== DEFAULT_BUS) throw validation('ScheduleExpression is supported only on the default event bus.');
    const state = input.State ?? 'ENABLED';
    if (!['ENABLED', 'DISABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS'].includes(state)) {
      throw validation(`State ${state} is not valid.`);
    }
    const matcher = eventPattern ? this.compile(eventPattern) : undefined;
    let schedule: Schedule | undefined;
    if (scheduleExpression) {
      try {
        schedule = parseScheduleExpression(scheduleExpression, this.options.clock.now());
      } catch (error) {
        if (error instanceof InvalidScheduleExpressionError) throw validation('Parameter ScheduleExpression is not valid.');
        throw error;
      }
    }
    const existing = bus.rules.get(name);
    existing?.timer?.cancel();
    const rule: Rule = {
      name,
      arn: this.ruleArn(bus.name, name),
      busName: bus.name,
      state,
      targets: existing?.targets ?? new Map(),
      ...(eventPattern ? { eventPattern, matcher } : {}),
      ...(scheduleExpression ? { scheduleExpression, schedule } : {}),
      ...(input.Description ? { description: input.Description } : {}),
      ...(input.RoleArn ? { roleArn: input.RoleArn } : {}),
    };
    bus.rules.set(name, rule);
    this.armSchedule(rule);
    return rule.arn;
  }

  private ruleDescription(rule: Rule) {
    return {
      Name: rule.name,
      Arn: rule.arn,
      EventBusName: rule.busName,
      State: rule.state,
      ...(rule.eventPattern ? { EventPattern: rule.eventPattern } : {}),
      ...(rule.scheduleExpression ? { ScheduleExpression: rule.scheduleExpression } : {}),
      ...(rule.description ? { Description: rule.description } : {}),
      ...(rule.roleArn ? { RoleArn: rule.roleArn } : {}),
    };
  }

  private describeRule(input: Input) {
    return {
      ...this.ruleDescription(this.rule(requiredString(input, 'Name'), optionalString(input, 'EventBusName'))),
      CreatedBy: this.options.accountId,
    };
  }

  private listRules(input: Input) {
    const prefix = optionalString(input, 'NamePrefix') ?? '';
    const rules = [...this.bus(optionalString(input, 'EventBusName')).rules.values()]
      .filter((rule) => rule.name.startsWith(prefix))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((rule) => this.ruleDescription(rule));
    const { items, nextToken } = page(rules, input);
    return { Rules: items, ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  private deleteRule(input: Input) {
    const bus = this.bus(optionalString(input, 'EventBusName'));
    const rule = bus.rules.get(requiredString(input, 'Name'));
    if (!rule) return {};
    if (rule.targets.size > 0) throw validation("Rule can't be deleted since it has targets.");
    rule.timer?.cancel();
    bus.rules.delete(rule.name);
    return {};
  }

  setRuleState(name: string, busNameOrArn: string | undefined, state: 'ENABLED' | 'DISABLED'): void {
    const rule = this.rule(name, busNameOrArn);
    if (rule.state === state || (state === 'ENABLED' && rule.state !== 'DISABLED')) return;
    rule.state = state;
    if (rule.scheduleExpression) {
      // A rate restarts from when the rule is enabled again.
      rule.schedule = parseScheduleExpression(rule.scheduleExpression, this.options.clock.now());
    }
    this.armSchedule(rule);
  }

  // ---- targets ----

  putTargets(ruleName: string, busNameOrArn: string | undefined, targets: unknown) {
    const rule = this.rule(ruleName, busNameOrArn);
    if (!Array.isArray(targets) || targets.length === 0 || targets.length > 10) {
      throw validation(
        "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10",
      );
    }
    const checked = targets.map((target) => this.checkTarget(target));
    const ids = new Set([...rule.targets.keys(), ...checked.map((t) => t.Id)]);
    if (ids.size > MAX_TARGETS_PER_RULE) {
      throw new AwsServiceError(
        'LimitExceededException',
        `The requested resource exceeds the maximum number allowed (${MAX_TARGETS_PER_RULE} targets per rule).`,
      );
    }
    for (const target of checked) rule.targets.set(target.Id, target);
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  private checkTarget(raw: unknown): Target {
    if (raw === null || typeof raw !== 'object') throw validation('A target must be an object.');
    const target = raw as Target;
    if (typeof target.Id !== 'string' || !TARGET_ID.test(target.Id)) throw validation(`Target Id ${String(target.Id)} is not valid.`);
    if (typeof target.Arn !== 'string' || !target.Arn.startsWith('arn:'))
      throw validation(`Target Arn ${String(target.Arn)} is not valid.`);
    const inputs = [target.Input, target.InputPath, target.InputTransformer].filter((value) => value !== undefined && value !== null);
    if (inputs.length > 1) throw validation('Only one of Input, InputPath, or InputTransformer must be provided.');
    if (target.Input !== undefined) {
      try {
        JSON.parse(target.Input);
      } catch {
        throw validation(`Target ${target.Id}: Input is not valid JSON text.`);
      }
    }
    const checkPath = (path: string, what: string) => {
      try {
        evaluateJsonPath({}, path);
      } catch (error) {
        if (error instanceof InvalidJsonPathError) throw validation(`Target ${target.Id}: ${what} is not valid: ${error.message}`);
        throw error;
      }
    };
    if (target.InputPath !== undefined) checkPath(target.InputPath, 'InputPath');
    if (target.InputTransformer !== undefined) {
      const { InputPathsMap: paths = {}, InputTemplate: template } = target.InputTransformer;
      if (typeof template !== 'string' || template === '') throw validation(`Target ${target.Id}: InputTemplate is required.`);
      if (Object.keys(paths).length > 100) throw validation(`Target ${target.Id}: InputPathsMap has more than 100 entries.`);
      for (const [name, path] of Object.entries(paths)) {
        if (isReservedVariable(name)) throw validation(`Target ${target.Id}: InputPathsMap uses the reserved name ${name}.`);
        checkPath(path, `InputPathsMap ${name}`);
      }
    }
    const retries = target.RetryPolicy?.MaximumRetryAttempts;
    if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 185)) {
      throw validation(`Target ${target.Id}: MaximumRetryAttempts must be between 0 and 185.`);
    }
    const age = target.RetryPolicy?.MaximumEventAgeInSeconds;
    if (age !== undefined && (!Number.isInteger(age) || age < 60 || age > 86_400)) {
      throw validation(`Target ${target.Id}: MaximumEventAgeInSeconds must be between 60 and 86400.`);
    }
    return { ...target };
  }

  private removeTargets(input: Input) {
    const rule = this.rule(requiredString(input, 'Rule'), optionalString(input, 'EventBusName'));
    const ids = Array.isArray(input.Ids) ? (input.Ids as unknown[]).map(String) : [];
    if (ids.length === 0)
      throw validation(
        "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    const failed = [];
    for (const id of ids) {
      if (!rule.targets.delete(id))
        failed.push({ TargetId: id, ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Target ${id} does not exist.` });
    }
    return { FailedEntryCount: failed.length, FailedEntries: failed };
  }

  private listTargetsByRule(input: Input) {
    const rule = this.rule(requiredString(input, 'Rule'), optionalString(input, 'EventBusName'));
    const { items, nextToken } = page([...rule.targets.values()], input);
    return { Targets: items, ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  // ---- archives ----

  private createArchive(input: Input) {
    const name = requiredString(input, 'ArchiveName');
    if (!/^[.\-_A-Za-z0-9]{1,48}$/.test(name)) throw validation(`Archive name ${name} is not valid.`);
    if (this.archives.has(name)) throw new AwsServiceError('ResourceAlreadyExistsException', `Archive ${name} already exists.`);
    const source = this.bus(requiredString(input, 'EventSourceArn'));
    const eventPattern = optionalString(input, 'EventPattern');
    const description = optionalString(input, 'Description');
    const archive: Archive = {
      name,
      arn: this.archiveArn(name),
      sourceArn: source.arn,
      retentionDays: typeof input.RetentionDays === 'number' ? input.RetentionDays : 0,
      createdAt: this.options.clock.now(),
      events: [],
      sizeBytes: 0,
      ...(eventPattern ? { eventPattern, matcher: this.compile(eventPattern) } : {}),
      ...(description ? { description } : {}),
    };
    this.archives.set(name, archive);
    return { ArchiveArn: archive.arn, State: 'ENABLED', CreationTime: archive.createdAt / 1000 };
  }

  private archiveSummary(archive: Archive) {
    return {
      ArchiveName: archive.name,
      EventSourceArn: archive.sourceArn,
      State: 'ENABLED',
      RetentionDays: archive.retentionDays,
      SizeBytes: archive.sizeBytes,
      EventCount: archive.events.length,
      CreationTime: archive.createdAt / 1000,
    };
  }

  private describeArchive(name: string) {
    const archive = this.archives.get(name);
    if (!archive) throw notFound(`Archive ${name} does not exist.`);
    return {
      ...this.archiveSummary(archive),
      ArchiveArn: archive.arn,
      ...(archive.eventPattern ? { EventPattern: archive.eventPattern } : {}),
      ...(archive.description ? { Description: archive.description } : {}),
    };
  }

  private listArchives(input: Input) {
    const prefix = optionalString(input, 'NamePrefix') ?? '';
    const source = optionalString(input, 'EventSourceArn');
    const archives = [...this.archives.values()]
      .filter((archive) => archive.name.startsWith(prefix) && (source === undefined || archive.sourceArn === source))
      .map((archive) => this.archiveSummary(archive));
    const { items, nextToken } = page(archives, input);
    return { Archives: items, ...(nextToken ? { NextToken: nextToken } : {}) };
  }

  /** The events an archive holds (oldest first). */
  archivedEvents(name: string): readonly EventEnvelope[] {
    return this.archives.get(name)?.events ?? [];
  }

  // ---- TestEventPattern ----

  private testEventPattern(input: Input) {
    const matcher = this.compile(requiredString(input, 'EventPattern'));
    let event: unknown;
    try {
      event = JSON.parse(requiredString(input, 'Event'));
    } catch {
      throw validation('Parameter Event is not valid.');
    }
    const required = ['id', 'account', 'source', 'time', 'region', 'detail-type'];
    if (event === null || typeof event !== 'object' || required.some((key) => !(key in event))) {
      throw validation(`Parameter Event is not valid. Reason: the event must have ${required.join(', ')}.`);
    }
    return { Result: matcher.matches(event) };
  }

  // ---- PutEvents ----

  private putEvents(input: Input) {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      throw validation(
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ENTRIES} and greater than or equal to 1`,
      );
    }
    const size = (entries as Input[]).reduce((total, entry) => total + entrySize(entry), 0);
    if (size > MAX_REQUEST_BYTES) throw validation('Total size of the entries in the request is over the limit.');
    const ingestionTime = this.options.clock.now();
    const accepted: Array<{ bus: Bus; event: EventEnvelope; traceHeader?: string }> = [];
    const results = (entries as Input[]).map((entry) => {
      const outcome = this.acceptEntry(entry, ingestionTime);
      if ('ErrorCode' in outcome) return outcome;
      accepted.push(outcome);
      return { EventId: outcome.event.id };
    });
    // Answer first: a caller waiting on its own targets could hold the last execution environment.
    setImmediate(() => {
      for (const { bus, event, traceHeader } of accepted) this.route(bus, event, ingestionTime, traceHeader);
    });
    return { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results };
  }

  private acceptEntry(
    entry: Input,
    ingestionTime: number,
  ): { bus: Bus; event: EventEnvelope; traceHeader?: string } | { ErrorCode: string; ErrorMessage: string } {
    for (const key of ['Source', 'DetailType', 'Detail'] as const) {
      if (typeof entry[key] !== 'string' || entry[key] === '') {
        return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${key} is not valid. Reason: ${key} is a required argument.` };
      }
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail as string);
    } catch {
      detail = undefined;
    }
    if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    let bus: Bus;
    try {
      bus = this.bus(typeof entry.EventBusName === 'string' ? entry.EventBusName : undefined);
    } catch (error) {
      const e = error as AwsServiceError;
      return { ErrorCode: e.type, ErrorMessage: e.message };
    }
    const time = entryTime(entry.Time) ?? ingestionTime;
    const event: EventEnvelope = {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType as string,
      source: entry.Source as string,
      account: this.options.accountId,
      time: isoSeconds(time),
      region: this.options.region,
      resources: Array.isArray(entry.Resources) ? (entry.Resources as unknown[]).map(String) : [],
      detail,
    };
    return { bus, event, ...(typeof entry.TraceHeader === 'string' ? { traceHeader: entry.TraceHeader } : {}) };
  }

  /** A rule target that is an event bus: the event goes on that bus as if put there. */
  private putEventFromTarget(busArn: string, payload: unknown): void {
    let bus: Bus;
    try {
      bus = this.bus(busArn);
    } catch (error) {
      throw new DispatchError(busArn, (error as Error).message, 'ResourceNotFoundException');
    }
    const event = payload as Partial<EventEnvelope> | null;
    if (!event || typeof event !== 'object' || typeof event.source !== 'string' || typeof event['detail-type'] !== 'string') {
      throw new DispatchError(busArn, 'An event bus target needs an event (source, detail-type, detail)', 'ValidationException');
    }
    const now = this.options.clock.now();
    this.route(
      bus,
      {
        ...event,
        id: randomUUID(),
        version: '0',
        account: this.options.accountId,
        region: this.options.region,
        time: event.time ?? isoSeconds(now),
        resources: event.resources ?? [],
        detail: event.detail ?? {},
      } as EventEnvelope,
      now,
    );
  }

  /** Archives the event and starts a delivery to every target of every enabled rule that matches it. */
  private route(bus: Bus, event: EventEnvelope, ingestionTime: number, traceHeader?: string): void {
    for (const archive of this.archives.values()) {
      if (archive.sourceArn !== bus.arn || (archive.matcher && !archive.matcher.matches(event))) continue;
      archive.events.push(event);
      archive.sizeBytes += Buffer.byteLength(JSON.stringify(event));
    }
    for (const rule of bus.rules.values()) {
      if (rule.state === 'DISABLED' || !rule.matcher?.matches(event)) continue;
      this.deliverToTargets(rule, event, ingestionTime, traceHeader);
    }
  }

  private deliverToTargets(rule: Rule, event: EventEnvelope, ingestionTime: number, traceHeader?: string): void {
    for (const target of rule.targets.values()) {
      const stats = this.statsOf(rule, target);
      stats.matched++;
      const delivery = this.deliver(rule, target, event, ingestionTime, stats, traceHeader).finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  private statsOf(rule: Rule, target: Target): TargetStats {
    const key = `${rule.busName}/${rule.name}/${target.Id}`;
    let stats = this.statsByTarget.get(key);
    if (!stats) {
      stats = {
        eventBusName: rule.busName,
        ruleName: rule.name,
        targetId: target.Id,
        targetArn: target.Arn,
        matched: 0,
        delivered: 0,
        retried: 0,
        deadLettered: 0,
        dropped: 0,
      };
      this.statsByTarget.set(key, stats);
    }
    stats.targetArn = target.Arn;
    return stats;
  }

  /** One event to one target: attempts with back-off until delivered or the retry policy gives up. */
  private async deliver(
    rule: Rule,
    target: Target,
    event: EventEnvelope,
    ingestionTime: number,
    stats: TargetStats,
    traceHeader?: string,
  ): Promise<void> {
    const { clock, dispatcher } = this.options;
    const policy = { ...DEFAULT_RETRY_POLICY, ...target.RetryPolicy };
    const payload = targetPayload(event, target, { ruleName: rule.name, ruleArn: rule.arn, ingestionTime });
    const dispatch: DispatchOptions = {
      invocationType: 'Event',
      source: `rule ${rule.busName}/${rule.name}`,
      ...(traceHeader ? { traceHeader } : {}),
    };
    for (let retries = 0; ; retries++) {
      if (this.stopping.signal.aborted) return;
      let failure: { code: string; message: string };
      try {
        await dispatcher.deliver(target.Arn, payload, dispatch);
        stats.delivered++;
        return;
      } catch (error) {
        failure = {
          // A service's own errors carry their AWS name (Lambda's ResourceNotFoundException for an unknown function).
          code:
            error instanceof DispatchError ? error.code : error instanceof Error && error.name !== 'Error' ? error.name : 'InternalFailure',
          message: (error as Error)?.message ?? String(error),
        };
      }
      if (NOT_RETRIED.has(failure.code)) return this.deadLetter(rule, target, event, stats, failure, retries, 'MaximumRetryAttempts');
      if (retries >= policy.MaximumRetryAttempts)
        return this.deadLetter(rule, target, event, stats, failure, retries, 'MaximumRetryAttempts');
      const delay = retryDelay(retries);
      if (clock.now() + delay - ingestionTime > policy.MaximumEventAgeInSeconds * 1000) {
        return this.deadLetter(rule, target, event, stats, failure, retries, 'MaximumEventAgeInSeconds');
      }
      try {
        await clock.sleep(delay, this.stopping.signal);
      } catch {
        return;
      }
      // A timer that ran late may have carried the event past its age: no attempt then.
      if (clock.now() - ingestionTime > policy.MaximumEventAgeInSeconds * 1000) {
        return this.deadLetter(rule, target, event, stats, failure, retries, 'MaximumEventAgeInSeconds');
      }
      stats.retried++;
    }
  }

  private async deadLetter(
    rule: Rule,
    target: Target,
    event: EventEnvelope,
    stats: TargetStats,
    failure: { code: string; message: string },
    retries: number,
    exhausted: 'MaximumRetryAttempts' | 'MaximumEventAgeInSeconds',
  ): Promise<void> {
    const dlq = target.DeadLetterConfig?.Arn;
    const what = `event ${event.id} for target ${target.Id} (${target.Arn}) of rule ${rule.busName}/${rule.name}`;
    if (!dlq) {
      stats.dropped++;
      this.warn(`${what} dropped after ${retries} retries: ${failure.message}`);
      return;
    }
    const attribute = (value: string, type: 'String' | 'Number' = 'String') => ({ DataType: type, StringValue: value });
    try {
      // The dead letter is the event as matched, not the transformed input; the attributes say why.
      await this.options.dispatcher.deliver(dlq, event, {
        invocationType: 'Event',
        source: `dead-letter queue of rule ${rule.busName}/${rule.name}`,
        sqs: {
          messageAttributes: {
            RULE_ARN: attribute(rule.arn),
            TARGET_ARN: attribute(target.Arn),
            ERROR_CODE: attribute(NOT_RETRIED.has(failure.code) ? 'RESOURCE_NOT_FOUND' : 'SDK_CLIENT_ERROR'),
            ERROR_MESSAGE: attribute(failure.message.slice(0, 1024)),
            EXHAUSTED_RETRY_CONDITION: attribute(exhausted),
            RETRY_ATTEMPTS: attribute(String(retries), 'Number'),
          },
        },
      });
      stats.deadLettered++;
    } catch (error) {
      stats.dropped++;
      this.warn(`${what} dropped: its dead-letter queue ${dlq} refused it (${(error as Error).message})`);
    }
  }

  // ---- schedules ----

  private armSchedule(rule: Rule): void {
    rule.timer?.cancel();
    delete rule.timer;
    if (!rule.schedule || rule.state === 'DISABLED' || this.stopping.signal.aborted) return;
    const at = rule.schedule.next(this.options.clock.now());
    if (at !== undefined) this.fireAt(rule, at);
  }

  /** Fires the rule's schedule at simulated time `at`, then arms the next occurrence. */
  private fireAt(rule: Rule, at: number): void {
    const { clock } = this.options;
    const remaining = at - clock.now();
    // A wait longer than one Node timer (a monthly cron at scale 1) is re-armed in steps.
    const step = Math.min(remaining, MAX_TIMER_MS * clock.timeScale);
    rule.timer = clock.setTimeout(() => {
      if (step < remaining) return this.fireAt(rule, at);
      const current = this.buses.get(rule.busName)?.rules.get(rule.name);
      if (current !== rule || rule.state === 'DISABLED' || !rule.schedule) return;
      this.deliverToTargets(rule, this.scheduledEvent(rule, at), clock.now());
      const next = rule.schedule.next(at);
      if (next !== undefined) this.fireAt(rule, next);
    }, step);
  }

  /** The event a schedule delivers (EventBridge's "Scheduled Event" shape). */
  private scheduledEvent(rule: Rule, at: number): EventEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: this.options.accountId,
      time: isoSeconds(at),
      region: this.options.region,
      resources: [rule.arn],
      detail: {},
    };
  }

  // ---- for tests and the CLI ----

  /** Deliveries per rule target: matched, delivered, retried, dead-lettered, dropped. */
  stats(): TargetStats[] {
    return [...this.statsByTarget.values()].map((stats) => ({ ...stats }));
  }

  /** Resolves when every delivery under way has ended (retries included). */
  async drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops schedules and pending retries. */
  stop(): void {
    this.stopping.abort(new Error('EventBridge stopped'));
    for (const bus of this.buses.values()) for (const rule of bus.rules.values()) rule.timer?.cancel();
  }
}

/** Entry size as the EventBridge guide computes it: Time 14 bytes, Source, DetailType, Detail and Resources in UTF-8. */
export function entrySize(entry: Input): number {
  const bytes = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  let size = entry.Time !== undefined && entry.Time !== null ? 14 : 0;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  if (Array.isArray(entry.Resources)) for (const resource of entry.Resources) size += bytes(resource);
  return size;
}

/** `Time` as the JSON protocol carries it (epoch seconds) or an ISO string. */
function entryTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value * 1000;
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** Delay before retry `n` (0-based): exponential from 1 s, capped at 5 min, half of it random. */
function retryDelay(retries: number): number {
  const ceiling = Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_MS * 2 ** retries);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
