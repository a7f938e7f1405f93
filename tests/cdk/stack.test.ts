import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { synthTemplate } from '../support/synth.js';

let template: Template;

beforeAll(() => {
  // Throws if cdk-nag AwsSolutions reports anything not acknowledged in lib/nag.ts (tests/cdk/nag.test.ts checks the report).
  template = Template.fromJSON(synthTemplate({ 'switchyard:allowedOrigins': ['https://app.example', 'https://admin.example'] }) as never);
});

describe('the stack', () => {
  it('has one pay-per-request table with PITR, TTL, a stream and the store GSIs', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
        }),
        Match.objectLike({
          IndexName: 'gsi2',
          KeySchema: [
            { AttributeName: 'gsi2pk', KeyType: 'HASH' },
            { AttributeName: 'gsi2sk', KeyType: 'RANGE' },
          ],
        }),
      ]),
    });
  });

  it('runs every function on Node 22 arm64 with X-Ray and Powertools configured', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    // 8 API functions, the authorizer and the bootstrap custom resource.
    expect(Object.keys(functions)).toHaveLength(12);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'switchyard',
            POWERTOOLS_METRICS_NAMESPACE: 'Switchyard',
            TABLE_NAME: expect.anything(),
          }),
        },
      });
    }
  });

  it('configures CORS and rate limits on every API function', () => {
    const apiFunctions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) =>
        (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.CORS_ALLOWED_ORIGINS !== undefined,
    );
    expect(apiFunctions).toHaveLength(8);
    for (const fn of apiFunctions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        CORS_ALLOWED_ORIGINS: 'https://app.example,https://admin.example',
        RATE_LIMIT_ANONYMOUS: '10',
        RATE_LIMIT_AUTHENTICATED: '100',
        RATE_LIMIT_ADMIN: '1000',
        RATE_LIMIT_LOGIN: '5',
      });
    }
  });

  it('puts the Lambda REQUEST authorizer on every route that is not public', () => {
    template.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties as Record<string, unknown>);
    const byOperation = new Map(methods.map((m) => [m.OperationName, m]));
    for (const route of allRoutes) {
      const method = byOperation.get(route.operationId);
      expect(method?.AuthorizationType, route.operationId).toBe(route.access === 'public' ? 'NONE' : 'CUSTOM');
    }
  });

  it('keeps signing keys and bootstrap credentials in Secrets Manager and bootstraps them on deploy', () => {
    // Signing keys, admin password, admin API key, and the page-cursor HMAC key.
    template.resourceCountIs('AWS::SecretsManager::Secret', 4);
    template.resourceCountIs('Custom::SwitchyardBootstrap', 1);
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'UNAUTHORIZED', StatusCode: '401' });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'ACCESS_DENIED',
      StatusCode: '403',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('\\$context.authorizer.requiredRole') },
    });
  });

  it('traces and access-logs the API stage', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('declares every route with a Lambda proxy integration and request validation', () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map((m) => m.Properties as Record<string, unknown>);
    const proxied = methods.filter((m) => (m.Integration as { Type: string }).Type === 'AWS_PROXY');
    expect(proxied).toHaveLength(allRoutes.length);
    for (const m of proxied) expect(m.RequestValidatorId).toBeDefined();
    const bodyRoutes = allRoutes
      .filter((r) => r.body)
      .map((r) => r.operationId)
      .sort();
    const withModels = proxied
      .filter((m) => m.RequestModels)
      .map((m) => m.OperationName)
      .sort();
    expect(withModels).toEqual(bodyRoutes);
  });

  it('answers CORS preflight for the allow-list only, never *', () => {
    const options = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'OPTIONS' } }));
    expect(options.length).toBeGreaterThan(0);
    const json = JSON.stringify(options);
    expect(json).toContain("'https://app.example'");
    expect(json).toContain('https://admin.example');
    expect(json).not.toContain("'*'");
  });

  it('turns the errors API Gateway answers itself into problem+json', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'BAD_REQUEST_BODY',
      StatusCode: '400',
      ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/problem+json'" },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'MISSING_AUTHENTICATION_TOKEN', StatusCode: '404' });
  });
});
