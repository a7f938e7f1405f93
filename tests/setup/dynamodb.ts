/** Integration tests share one in-memory DynamoDB Local; each file makes its own table. */
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/aws/dynamodb/local-process.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const dynamo = await startDynamoDbLocal();
  project.provide('dynamoEndpoint', dynamo.endpoint);
  return () => dynamo.stop();
}
