import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

/** A minimal but well-formed API Gateway proxy event v1, for handler unit tests. */
export function apiEvent(over: Partial<APIGatewayProxyEvent> & { httpMethod: string; resource: string }): APIGatewayProxyEvent {
  return {
    path: over.resource,
    body: null,
    headers: {},
    multiValueHeaders: {},
    isBase64Encoded: false,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      httpMethod: over.httpMethod,
      identity: { sourceIp: '127.0.0.1', userAgent: 'vitest' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/prod${over.resource}`,
      protocol: 'HTTP/1.1',
      requestId: 'req-1',
      requestTimeEpoch: Date.now(),
      resourceId: 'r',
      resourcePath: over.resource,
      stage: 'prod',
    },
    ...over,
  };
}

export const lambdaContext = {
  functionName: 'unit',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:unit',
  memoryLimitInMB: '128',
  awsRequestId: 'aws-req-1',
  logGroupName: '/aws/lambda/unit',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;
