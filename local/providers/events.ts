/**
 * `AWS::Events::EventBus`, `AWS::Events::Rule` and `AWS::Events::Archive`,
 * created in the local EventBridge through its own API (so a template gets
 * the same validation as a PutRule call) with the values CloudFormation
 * reports:
 *
 * - EventBus: Ref = name; GetAtt Arn, Name.
 * - Rule: Ref = the rule name on the default bus, `<bus>|<rule>` on a custom
 *   bus (CloudFormation's identifier for it); GetAtt Arn. `EventPattern` is
 *   an object in a template and a JSON string in the API. A target whose ARN
 *   cannot be resolved (a resource the runtime does not run) is left out
 *   with a warning.
 * - Archive: Ref = name; GetAtt Arn.
 *
 * Names the template leaves out are generated as CloudFormation does.
 */
import type { EventBridgeService } from '../aws/events/service.js';
import { AwsServiceError } from '../aws/endpoint.js';
import { generatedPhysicalName } from '../template/resolver.js';
import type { CfnResource } from '../types.js';
import { resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const EVENT_BUS_TYPE = 'AWS::Events::EventBus';
export const RULE_TYPE = 'AWS::Events::Rule';
export const ARCHIVE_TYPE = 'AWS::Events::Archive';

const TARGET_SETTINGS = ['Input', 'InputPath', 'InputTransformer', 'RetryPolicy', 'DeadLetterConfig', 'RoleArn'] as const;

/** Runs one EventBridge API call for a resource; a refusal fails the resource as it would fail the stack. */
function call(
  events: EventBridgeService,
  logicalId: string,
  type: string,
  operation: string,
  input: Record<string, unknown>,
): Record<string, unknown> {
  try {
    return events.handle(operation, input) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof AwsServiceError)
      throw new Error(`${logicalId} (${type}): ${operation} failed: ${error.type}: ${error.message}`, { cause: error });
    throw error;
  }
}

const asPattern = (value: unknown) => (value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value));
const optional = (key: string, value: unknown) => (value === undefined || value === null ? {} : { [key]: value });

export const eventBusProvider: ResourceProvider = {
  types: [EVENT_BUS_TYPE],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const name = props.Name === undefined ? generatedPhysicalName(context.env.stackName, logicalId, 256) : String(props.Name);
    const { EventBusArn } = call(context.services.events, logicalId, EVENT_BUS_TYPE, 'CreateEventBus', {
      Name: name,
      ...optional('Description', props.Description),
    });
    return { ref: name, attributes: { Arn: EventBusArn, Name: name } };
  },
};

export const ruleProvider: ResourceProvider = {
  types: [RULE_TYPE],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const { events } = context.services;
    const name = props.Name === undefined ? generatedPhysicalName(context.env.stackName, logicalId, 64) : String(props.Name);
    const busName = props.EventBusName === undefined ? undefined : String(props.EventBusName);
    const { RuleArn } = call(events, logicalId, RULE_TYPE, 'PutRule', {
      Name: name,
      ...optional('EventBusName', busName),
      ...optional('EventPattern', asPattern(props.EventPattern)),
      ...optional('ScheduleExpression', props.ScheduleExpression),
      ...optional('State', props.State),
      ...optional('Description', props.Description),
      ...optional('RoleArn', props.RoleArn),
    });
    const targets = (Array.isArray(props.Targets) ? (props.Targets as Array<Record<string, unknown>>) : []).filter((target) => {
      if (typeof target.Arn === 'string') return true;
      context.warn(`${logicalId} (${RULE_TYPE}): target ${String(target.Id)} is left out: its Arn could not be resolved`);
      return false;
    });
    if (targets.length > 0) {
      call(events, logicalId, RULE_TYPE, 'PutTargets', {
        Rule: name,
        ...optional('EventBusName', busName),
        Targets: targets.map((target) => {
          const settings = Object.fromEntries(TARGET_SETTINGS.flatMap((key) => (target[key] === undefined ? [] : [[key, target[key]]])));
          const retry = target.RetryPolicy as Record<string, unknown> | undefined;
          // A handwritten template may give the numbers as strings.
          if (retry) settings.RetryPolicy = Object.fromEntries(Object.entries(retry).map(([key, value]) => [key, Number(value)]));
          return { Id: String(target.Id), Arn: target.Arn, ...settings };
        }),
      });
    }
    const ruleBus = busName?.startsWith('arn:') ? busName.slice(busName.indexOf('event-bus/') + 'event-bus/'.length) : busName;
    return { ref: ruleBus && ruleBus !== 'default' ? `${ruleBus}|${name}` : name, attributes: { Arn: RuleArn } };
  },
};

export const archiveProvider: ResourceProvider = {
  types: [ARCHIVE_TYPE],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const name = props.ArchiveName === undefined ? generatedPhysicalName(context.env.stackName, logicalId, 48) : String(props.ArchiveName);
    const { ArchiveArn } = call(context.services.events, logicalId, ARCHIVE_TYPE, 'CreateArchive', {
      ArchiveName: name,
      EventSourceArn: props.SourceArn,
      ...optional('EventPattern', asPattern(props.EventPattern)),
      ...optional('Description', props.Description),
      ...optional('RetentionDays', props.RetentionDays === undefined ? undefined : Number(props.RetentionDays)),
    });
    return { ref: name, attributes: { Arn: ArchiveArn } };
  },
};

export const eventsProviders: readonly ResourceProvider[] = [eventBusProvider, ruleProvider, archiveProvider];
