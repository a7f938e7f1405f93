/**
 * Reads the synthesized template the way CloudFormation would for the local
 * runtime: physical names for resources, intrinsic functions resolved to them,
 * and the tables and functions to run.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { secretArn } from './aws/secrets-manager.js';
import { resourcesOfType } from './cfn.js';
import type { CfnResource, CfnTemplate, LocalFunctionDefinition } from './types.js';

/**
 * A resolved CloudFormation property bag. Its shape is CloudFormation's (already
 * validated by CDK at synth); `any` keeps the mapping to SDK inputs readable.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CfnProperties = Record<string, any>;

export interface LocalEnvironment {
  stackName: string;
  region: string;
  accountId: string;
}

export class TemplateResolver {
  private readonly names = new Map<string, string>();

  constructor(
    readonly template: CfnTemplate,
    readonly env: LocalEnvironment,
  ) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      this.names.set(logicalId, this.physicalName(logicalId, resource));
    }
  }

  private physicalName(logicalId: string, resource: CfnResource): string {
    const props = resource.Properties ?? {};
    const explicit: Record<string, string> = {
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::DynamoDB::GlobalTable': 'TableName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::Events::EventBus': 'Name',
      'AWS::StepFunctions::StateMachine': 'StateMachineName',
      'AWS::SecretsManager::Secret': 'Name',
    };
    const key = explicit[resource.Type];
    if (key && typeof props[key] === 'string') return props[key] as string;
    // CloudFormation generates `<stack>-<logicalId>-<suffix>`; locally the suffix is not needed.
    return key ? `${this.env.stackName}-${logicalId}`.slice(0, 64) : logicalId;
  }

  nameOf(logicalId: string): string {
    const name = this.names.get(logicalId);
    if (name === undefined) throw new Error(`Template has no resource ${logicalId}`);
    return name;
  }

  arnOf(logicalId: string): string {
    const { region, accountId } = this.env;
    const resource = this.template.Resources[logicalId];
    const name = this.nameOf(logicalId);
    switch (resource?.Type) {
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return `arn:aws:dynamodb:${region}:${accountId}:table/${name}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${region}:${accountId}:${name}`;
      case 'AWS::Events::EventBus':
        return `arn:aws:events:${region}:${accountId}:event-bus/${name}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${accountId}:role/${name}`;
      case 'AWS::SecretsManager::Secret':
        return secretArn(region, accountId, name);
      default:
        return `arn:aws:local:${region}:${accountId}:${logicalId}`;
    }
  }

  private readonly outputs = new Map<string, { ref?: string; attributes?: Record<string, unknown> }>();

  /** What a resource the runtime created answered (custom resources): its Ref and GetAtt values. */
  setResourceOutputs(logicalId: string, outputs: { ref?: string; attributes?: Record<string, unknown> }): void {
    this.outputs.set(logicalId, outputs);
  }

  /** `Ref` as CloudFormation answers it: the ARN for secrets, the physical name for most types. */
  private refOf(logicalId: string): string {
    const output = this.outputs.get(logicalId)?.ref;
    if (output !== undefined) return output;
    return this.template.Resources[logicalId]?.Type === 'AWS::SecretsManager::Secret' ? this.arnOf(logicalId) : this.nameOf(logicalId);
  }

  private getAtt(logicalId: string, attribute: string): string {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`Fn::GetAtt on unknown resource ${logicalId}`);
    const outputs = this.outputs.get(logicalId)?.attributes;
    if (outputs && attribute in outputs) return String(outputs[attribute]);
    if (attribute === 'Arn') return this.arnOf(logicalId);
    if (attribute === 'StreamArn') return `${this.arnOf(logicalId)}/stream/local`;
    if (attribute === 'QueueUrl') return `local-queue://${this.nameOf(logicalId)}`;
    if (attribute === 'QueueName' || attribute === 'Name') return this.nameOf(logicalId);
    if (attribute === 'RootResourceId') return `${logicalId}-root`;
    return `${logicalId}.${attribute}`;
  }

  private pseudo(name: string): string | undefined {
    const { region, accountId, stackName } = this.env;
    const values: Record<string, string> = {
      'AWS::Region': region,
      'AWS::AccountId': accountId,
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': stackName,
      'AWS::StackId': `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/local`,
      'AWS::NoValue': '',
    };
    return values[name];
  }

  /** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split to plain values. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0] as [string, unknown];
      switch (fn) {
        case 'Ref': {
          const name = arg as string;
          return this.pseudo(name) ?? (this.names.has(name) ? this.refOf(name) : this.parameter(name));
        }
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
          return this.getAtt(id as string, attr as string);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.resolve(parts) as unknown[]).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number | string, unknown];
          return (this.resolve(list) as unknown[])[Number(index)];
        }
        case 'Fn::Split': {
          const [sep, source] = arg as [string, unknown];
          return String(this.resolve(source)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [arg as string, {}];
          return text.replace(/\$\{([^}]+)\}/g, (_, ref: string) => {
            if (ref in vars) return String(this.resolve(vars[ref]));
            if (ref.includes('.')) {
              const [id, attr] = ref.split('.');
              return this.getAtt(id as string, attr as string);
            }
            return String(this.resolve({ Ref: ref }));
          });
        }
        default:
          if (fn.startsWith('Fn::')) throw new Error(`The local runtime does not support ${fn}`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  private parameter(name: string): string {
    const parameter = this.template.Parameters?.[name];
    if (parameter?.Default !== undefined) return String(parameter.Default);
    throw new Error(`Ref to unknown resource or parameter without default: ${name}`);
  }

  resourcesOfType(type: string): Array<[string, CfnResource]> {
    return resourcesOfType(this.template, type);
  }

  /** CreateTable inputs for every DynamoDB table, streams and TTL included. */
  tables(): Array<{ logicalId: string; input: CreateTableCommandInput; ttlAttribute?: string }> {
    return [...this.resourcesOfType('AWS::DynamoDB::Table'), ...this.resourcesOfType('AWS::DynamoDB::GlobalTable')].map(
      ([logicalId, resource]) => {
        const p = this.resolve(resource.Properties ?? {}) as CfnProperties;
        const onDemand = p.BillingMode === 'PAY_PER_REQUEST' || resource.Type === 'AWS::DynamoDB::GlobalTable';
        const throughput = onDemand
          ? {}
          : { ProvisionedThroughput: p.ProvisionedThroughput ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } };
        const index = (i: CfnProperties) => ({
          IndexName: i.IndexName,
          KeySchema: i.KeySchema,
          Projection: i.Projection,
          ...(onDemand ? {} : { ProvisionedThroughput: i.ProvisionedThroughput ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 } }),
        });
        const stream = p.StreamSpecification?.StreamViewType as string | undefined;
        const input: CreateTableCommandInput = {
          TableName: this.nameOf(logicalId),
          KeySchema: p.KeySchema,
          AttributeDefinitions: p.AttributeDefinitions,
          BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
          ...throughput,
          ...(p.GlobalSecondaryIndexes?.length ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map(index) } : {}),
          ...(p.LocalSecondaryIndexes?.length
            ? {
                LocalSecondaryIndexes: p.LocalSecondaryIndexes.map((i: Record<string, unknown>) => ({
                  IndexName: i.IndexName,
                  KeySchema: i.KeySchema,
                  Projection: i.Projection,
                })),
              }
            : {}),
          ...(stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream as 'NEW_AND_OLD_IMAGES' } } : {}),
        };
        const ttl = p.TimeToLiveSpecification?.Enabled ? (p.TimeToLiveSpecification.AttributeName as string) : undefined;
        return { logicalId, input, ...(ttl ? { ttlAttribute: ttl } : {}) };
      },
    );
  }

  /** Every Lambda function with its bundled asset and resolved environment. */
  functions(outdir: string): LocalFunctionDefinition[] {
    return this.resourcesOfType('AWS::Lambda::Function').map(([logicalId, resource]) => {
      const props = resource.Properties ?? {};
      const assetPath = resource.Metadata?.['aws:asset:path'] as string | undefined;
      const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
      const fromKey = typeof s3Key === 'string' ? `asset.${s3Key.replace(/\.zip$/, '')}` : undefined;
      const assetDir = path.resolve(outdir, assetPath ?? fromKey ?? '');
      if (!(assetPath ?? fromKey) || !existsSync(assetDir)) {
        throw new Error(`Function ${logicalId}: bundled asset not found (${assetDir}); inline code is not supported locally`);
      }
      const variables = (this.resolve((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) ?? {}) as Record<
        string,
        unknown
      >;
      return {
        logicalId,
        functionName: this.nameOf(logicalId),
        assetDir,
        handler: String(props.Handler ?? 'index.handler'),
        runtime: String(props.Runtime ?? 'nodejs22.x'),
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySizeMb: Number(props.MemorySize ?? 128),
        environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      };
    });
  }
}
