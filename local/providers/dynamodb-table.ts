/**
 * `AWS::DynamoDB::Table` in DynamoDB Local: created with its keys, indexes,
 * stream and TTL when it does not exist (a data folder keeps it across
 * restarts). `Fn::GetAtt StreamArn` is the stream ARN DynamoDB Local assigned.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { CfnResource, CfnTemplate } from '../types.js';
import { generatedPhysicalName, TemplateResolver, type LocalEnvironment } from '../template/resolver.js';
import { arn, resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

/** Resolved CloudFormation properties of a table; CDK validated their shape at synth. */
interface TableProperties {
  TableName?: string;
  BillingMode?: string;
  KeySchema: CreateTableCommandInput['KeySchema'];
  AttributeDefinitions: CreateTableCommandInput['AttributeDefinitions'];
  ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
  GlobalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: CreateTableCommandInput['KeySchema'];
    Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
    ProvisionedThroughput?: { ReadCapacityUnits: number; WriteCapacityUnits: number };
  }>;
  LocalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: CreateTableCommandInput['KeySchema'];
    Projection: { ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
  }>;
  StreamSpecification?: { StreamViewType?: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' };
  TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean | string };
}

const DEFAULT_THROUGHPUT = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };

/** CreateTable input from a table's resolved properties. */
export function createTableInput(tableName: string, p: TableProperties): { input: CreateTableCommandInput; ttlAttribute?: string } {
  const onDemand = p.BillingMode === 'PAY_PER_REQUEST';
  const input: CreateTableCommandInput = {
    TableName: tableName,
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ...(onDemand ? {} : { ProvisionedThroughput: p.ProvisionedThroughput ?? DEFAULT_THROUGHPUT }),
    ...(p.GlobalSecondaryIndexes?.length
      ? {
          GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map((i) => ({
            IndexName: i.IndexName,
            KeySchema: i.KeySchema,
            Projection: i.Projection,
            ...(onDemand ? {} : { ProvisionedThroughput: i.ProvisionedThroughput ?? DEFAULT_THROUGHPUT }),
          })),
        }
      : {}),
    ...(p.LocalSecondaryIndexes?.length
      ? {
          LocalSecondaryIndexes: p.LocalSecondaryIndexes.map((i) => ({
            IndexName: i.IndexName,
            KeySchema: i.KeySchema,
            Projection: i.Projection,
          })),
        }
      : {}),
    ...(p.StreamSpecification?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } }
      : {}),
  };
  const ttl = p.TimeToLiveSpecification;
  const ttlEnabled = ttl?.Enabled === true || ttl?.Enabled === 'true';
  return { input, ...(ttlEnabled && ttl?.AttributeName ? { ttlAttribute: ttl.AttributeName } : {}) };
}

/** Creates the table unless it exists; returns what DescribeTable says of it. */
export async function ensureTable(client: DynamoDBClient, input: CreateTableCommandInput, ttlAttribute?: string) {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const created = (await client.send(new CreateTableCommand(input))).TableDescription;
  if (ttlAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({ TableName: input.TableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }),
    );
  }
  return created;
}

export const dynamoDbTableProvider: ResourceProvider = {
  types: ['AWS::DynamoDB::Table'],
  async create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context) as unknown as TableProperties;
    const tableName = props.TableName ?? generatedPhysicalName(context.env.stackName, logicalId, 255);
    const { input, ttlAttribute } = createTableInput(tableName, props);
    const table = await ensureTable(context.services.dynamodb.client, input, ttlAttribute);
    const attributes: Record<string, unknown> = { Arn: table?.TableArn ?? arn(context.env, 'dynamodb', `table/${tableName}`) };
    if (table?.LatestStreamArn) attributes.StreamArn = table.LatestStreamArn;
    return { ref: tableName, attributes };
  },
};

/**
 * CreateTable inputs of a template's tables whose properties reference no
 * other resource (tests and benches make a table from the stack's own
 * construct this way, without a runtime).
 */
export function standaloneTableInputs(
  template: CfnTemplate,
  env: LocalEnvironment,
): Array<{ logicalId: string; input: CreateTableCommandInput; ttlAttribute?: string }> {
  const resolver = new TemplateResolver(template, env);
  return resolver.resourcesOfType('AWS::DynamoDB::Table').map(([logicalId, resource]) => {
    const props = resolver.resolve(resource.Properties ?? {}) as TableProperties;
    return { logicalId, ...createTableInput(props.TableName ?? generatedPhysicalName(env.stackName, logicalId, 255), props) };
  });
}
