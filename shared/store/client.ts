import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import { tracer } from '../telemetry.js';

/**
 * One document client per execution environment, created lazily so module
 * load stays cheap; every call is traced as an X-Ray subsegment. The endpoint
 * comes from the SDK's own AWS_ENDPOINT_URL_DYNAMODB variable when set (local
 * runtime, LocalStack), so no code path differs between them and AWS.
 */
let documentClient: DynamoDBDocumentClient | undefined;

export function dynamoDocumentClient(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler: SDK_TIMEOUTS })), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return documentClient;
}

export function tableNameFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set: the stack sets it on every function that uses the table');
  return name;
}
