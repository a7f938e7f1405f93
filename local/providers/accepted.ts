/**
 * Resources the local runtime accepts without a service of their own, each
 * with the values CloudFormation would report:
 *
 * - IAM roles and policies, and Lambda permissions: recorded, not enforced
 *   (every local function may call every local service; least privilege is
 *   checked by cdk-nag and by the deployed stack).
 * - Log groups: function logs go to the runtime's console instead.
 * - CloudWatch alarms: recorded, never evaluated (no metrics are collected
 *   locally; the runbook's alarms exist on the deployed stack).
 * - API Gateway resources: the REST API emulator (local/apigateway) reads them
 *   from the template and serves them once every resource exists; the ids
 *   here are the ones it uses.
 */
import { stableId } from '../cfn.js';
import { generatedPhysicalName } from '../template/resolver.js';
import type { CfnResource } from '../types.js';
import { arn, resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const iamProvider: ResourceProvider = {
  types: ['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const explicit = props.RoleName ?? props.PolicyName ?? props.ManagedPolicyName;
    const name = typeof explicit === 'string' ? explicit : generatedPhysicalName(context.env.stackName, logicalId);
    if (resource.Type === 'AWS::IAM::Role') {
      return {
        ref: name,
        attributes: {
          Arn: arn(context.env, 'iam', `role/${name}`, { global: true }),
          RoleId: stableId(`role:${logicalId}`, 21).toUpperCase(),
        },
      };
    }
    if (resource.Type === 'AWS::IAM::ManagedPolicy') {
      const policyArn = arn(context.env, 'iam', `policy/${name}`, { global: true });
      return { ref: policyArn, attributes: { PolicyArn: policyArn } };
    }
    return { ref: stableId(`policy:${logicalId}`, 12), attributes: { Id: stableId(`policy:${logicalId}`, 12) } };
  },
};

export const lambdaPermissionProvider: ResourceProvider = {
  types: ['AWS::Lambda::Permission'],
  create(logicalId: string) {
    return { ref: `${logicalId}-${stableId(`permission:${logicalId}`, 12)}`, attributes: {} };
  },
};

export const logGroupProvider: ResourceProvider = {
  types: ['AWS::Logs::LogGroup'],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const name = typeof props.LogGroupName === 'string' ? props.LogGroupName : generatedPhysicalName(context.env.stackName, logicalId, 512);
    return { ref: name, attributes: { Arn: arn(context.env, 'logs', `log-group:${name}:*`) } };
  },
};

export const alarmProvider: ResourceProvider = {
  types: ['AWS::CloudWatch::Alarm'],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const name = typeof props.AlarmName === 'string' ? props.AlarmName : generatedPhysicalName(context.env.stackName, logicalId, 255);
    return { ref: name, attributes: { Arn: arn(context.env, 'cloudwatch', `alarm:${name}`) } };
  },
};

/** The ids the REST API emulator gives each API Gateway resource (stable across starts). */
export const apiGatewayProvider: ResourceProvider = {
  types: [
    'AWS::ApiGateway::RestApi',
    'AWS::ApiGateway::Resource',
    'AWS::ApiGateway::Method',
    'AWS::ApiGateway::Deployment',
    'AWS::ApiGateway::Stage',
    'AWS::ApiGateway::Authorizer',
    'AWS::ApiGateway::GatewayResponse',
    'AWS::ApiGateway::RequestValidator',
    'AWS::ApiGateway::Model',
    'AWS::ApiGateway::Account',
  ],
  create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    switch (resource.Type) {
      case 'AWS::ApiGateway::RestApi':
        return { ref: stableId(`restapi:${logicalId}`, 10), attributes: { RootResourceId: stableId(`root:${logicalId}`, 10) } };
      case 'AWS::ApiGateway::Resource':
        return { ref: stableId(`resource:${logicalId}`, 6), attributes: { ResourceId: stableId(`resource:${logicalId}`, 6) } };
      case 'AWS::ApiGateway::Authorizer':
        return { ref: stableId(`authorizer:${logicalId}`, 6), attributes: { AuthorizerId: stableId(`authorizer:${logicalId}`, 6) } };
      case 'AWS::ApiGateway::Stage': {
        const props = resolvedProperties(resource, context);
        return { ref: String(props.StageName ?? 'prod'), attributes: {} };
      }
      case 'AWS::ApiGateway::Model': {
        const props = resolvedProperties(resource, context);
        return { ref: String(props.Name ?? logicalId), attributes: {} };
      }
      default:
        return { ref: stableId(`${resource.Type}:${logicalId}`, 10), attributes: {} };
    }
  },
};
