import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { allRoutes } from '../../shared/api/routes.js';
import { synthTemplate } from '../support/synth.js';

let template: Template;

beforeAll(() => {
  // Throws if cdk-nag AwsSolutions reports anything not acknowledged in lib/nag.ts.
  template = Template.fromJSON(synthTemplate({ 'switchyard:allowedOrigins': ['https://app.example', 'https://admin.example'] }) as never);
});

describe('the stack', () => {
  it('synthesizes with cdk-nag AwsSolutions clean', () => {
    expect(template.toJSON().Resources).toBeDefined();
  });

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
    expect(Object.keys(functions)).toHaveLength(4);
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
            CORS_ALLOWED_ORIGINS: 'https://app.example,https://admin.example',
          }),
        },
      });
    }
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
