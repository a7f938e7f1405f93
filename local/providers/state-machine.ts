/**
 * `AWS::StepFunctions::StateMachine`, created in the local Step Functions
 * (local/aws/states) through its own CreateStateMachine, with the values
 * CloudFormation reports: `Ref` = the state machine ARN
 * (`arn:aws:states:<region>:<account>:stateMachine:<name>`), GetAtt Arn and
 * Name.
 *
 * The definition is `DefinitionString` (CDK's `Fn::Join` of the ASL with the
 * ARNs of the functions, queues and buses it uses, resolved against what
 * their providers reported) or `Definition` (an object), with
 * `DefinitionSubstitutions` applied (`${key}`). A definition the local
 * runtime cannot run (JSONata, invalid ASL, a reference to a resource it does
 * not run, `DefinitionS3Location`) leaves the state machine out with a
 * warning naming why; unsupported task integrations are warned about here,
 * at start, and fail the task when it runs.
 *
 * StateMachineName absent: the name is generated as for the other resources
 * (`<stack>-<logicalId>`, at most 80 characters).
 */
import { AwsServiceError } from '../aws/endpoint.js';
import { generatedPhysicalName } from '../template/resolver.js';
import type { CfnResource } from '../types.js';
import { resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const STATE_MACHINE_TYPE = 'AWS::StepFunctions::StateMachine';

/** Step Functions' own limit on a state machine name. */
const MAX_NAME = 80;

/** `${key}` → the substitution's value, in a definition string. */
function substitute(text: string, substitutions: Record<string, unknown>): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (key in substitutions ? String(substitutions[key]) : whole));
}

/** The same, in every string of a definition object (a string that is only `${key}` takes the value as it is). */
function substituteIn(value: unknown, substitutions: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([^}]+)\}$/.exec(value);
    if (whole?.[1] !== undefined && whole[1] in substitutions) return substitutions[whole[1]];
    return substitute(value, substitutions);
  }
  if (Array.isArray(value)) return value.map((item) => substituteIn(item, substitutions));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteIn(item, substitutions)]));
  }
  return value;
}

/** The definition text, or why there is none. */
export function definitionOf(props: Record<string, unknown>): { definition: string } | { problem: string } {
  const substitutions =
    props.DefinitionSubstitutions !== null && typeof props.DefinitionSubstitutions === 'object'
      ? (props.DefinitionSubstitutions as Record<string, unknown>)
      : {};
  const missing = Object.entries(substitutions)
    .filter(([, value]) => value === undefined)
    .map(([key]) => key);
  if (missing.length > 0)
    return { problem: `DefinitionSubstitutions ${missing.join(', ')} reference resources the local runtime does not run` };
  if ('DefinitionString' in props) {
    if (typeof props.DefinitionString !== 'string')
      return { problem: 'its DefinitionString references a resource the local runtime does not run' };
    return { definition: substitute(props.DefinitionString, substitutions) };
  }
  if (props.Definition !== null && typeof props.Definition === 'object') {
    return { definition: JSON.stringify(substituteIn(props.Definition, substitutions)) };
  }
  if ('DefinitionS3Location' in props) return { problem: 'DefinitionS3Location is not read by the local runtime (no S3)' };
  return { problem: 'it has no definition' };
}

export const stateMachineProvider: ResourceProvider = {
  types: [STATE_MACHINE_TYPE],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const { states } = context.services;
    const name =
      typeof props.StateMachineName === 'string' && props.StateMachineName !== ''
        ? props.StateMachineName
        : generatedPhysicalName(context.env.stackName, logicalId, MAX_NAME);
    const found = definitionOf(props);
    if ('problem' in found) {
      context.warn(`${logicalId} (${STATE_MACHINE_TYPE}) is not run locally: ${found.problem}`);
      return undefined;
    }
    let arn: string;
    try {
      ({ stateMachineArn: arn } = states.handle('CreateStateMachine', {
        name,
        definition: found.definition,
        ...(typeof props.RoleArn === 'string' ? { roleArn: props.RoleArn } : {}),
        ...(typeof props.StateMachineType === 'string' ? { type: props.StateMachineType } : {}),
      }) as { stateMachineArn: string });
    } catch (error) {
      if (!(error instanceof AwsServiceError)) throw error;
      context.warn(`${logicalId} (${STATE_MACHINE_TYPE}) is not run locally: ${error.type}: ${error.message}`);
      return undefined;
    }
    for (const warning of states.warningsFor(arn)) context.warn(`${logicalId} (${STATE_MACHINE_TYPE}): ${warning}`);
    return { ref: arn, attributes: { Arn: arn, Name: name } };
  },
};
