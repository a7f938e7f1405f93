import { Duration } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  RequestAuthorizer,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Model,
  RequestValidator,
  ResponseType,
  RestApi,
  type IResource,
} from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ForbiddenError, UnauthenticatedError } from '../shared/domain/errors.js';
import { problemTitle, problemType } from '../shared/http/problem.js';
import type { ApiFunctionName, RouteSpec } from '../shared/http/route.js';
import { gatewayModelSchema } from './request-models.js';

export interface ApiProps {
  routes: RouteSpec[];
  functions: Record<ApiFunctionName, IFunction>;
  allowedOrigins: string[];
  /** The REQUEST authorizer put in front of every non-public route. */
  authorizerFunction: IFunction;
  stageName?: string;
}

/** Problem+json for errors API Gateway answers itself, so clients see one error format. */
function gatewayProblem(status: number, code: string, detail: string): string {
  const body = JSON.stringify({
    type: problemType(code),
    title: problemTitle(status),
    status,
    detail: '@DETAIL@',
    code,
    requestId: '$context.requestId',
  });
  // $context.error.messageString is already a quoted JSON string; everything else is text inside quotes.
  return detail === '$context.error.messageString' ? body.replace('"@DETAIL@"', detail) : body.replace('@DETAIL@', detail);
}

/**
 * The REST API: every route in shared/api/routes.ts becomes a resource and
 * method with a Lambda proxy integration, request validation and X-Ray.
 */
export class SwitchyardApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS });
    this.api = new RestApi(this, 'RestApi', {
      restApiName: 'switchyard',
      description: 'Switchyard release-control plane',
      endpointTypes: [EndpointType.REGIONAL],
      cloudWatchRole: true,
      deployOptions: {
        stageName: props.stageName ?? 'prod',
        tracingEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
        throttlingRateLimit: 200,
        throttlingBurstLimit: 400,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: true,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: true,
        }),
      },
      defaultCorsPreflightOptions: props.allowedOrigins.length
        ? {
            allowOrigins: props.allowedOrigins,
            allowCredentials: true,
            allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'X-API-Key', 'X-Correlation-Id'],
            allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
            maxAge: Duration.hours(1),
          }
        : undefined,
    });

    const problemHeaders = { 'Content-Type': "'application/problem+json'" };
    // Same titles and wording as the problems the functions answer (shared/http/problem.ts, domain errors).
    const authorizerFailed = 'The authorizer failed; quote the requestId';
    const gatewayResponses: Array<[ResponseType, number, string, string]> = [
      [
        ResponseType.BAD_REQUEST_BODY,
        400,
        'VALIDATION_FAILED',
        'The request body does not match the operation schema: $context.error.validationErrorString',
      ],
      [ResponseType.BAD_REQUEST_PARAMETERS, 400, 'VALIDATION_FAILED', '$context.error.messageString'],
      // REST APIs answer an unknown route with 403 "Missing Authentication Token"; say what it is.
      [
        ResponseType.MISSING_AUTHENTICATION_TOKEN,
        404,
        'ROUTE_NOT_FOUND',
        'No such route: check the method and path against docs/openapi.json',
      ],
      [ResponseType.REQUEST_TOO_LARGE, 413, 'BODY_TOO_LARGE', '$context.error.messageString'],
      [ResponseType.THROTTLED, 429, 'THROTTLED', '$context.error.messageString'],
      [ResponseType.DEFAULT_5XX, 502, 'UPSTREAM_ERROR', '$context.error.messageString'],
      // The authorizer's verdicts. 401 says nothing about why (no help for an attacker); 403 names the role.
      [ResponseType.UNAUTHORIZED, 401, 'UNAUTHENTICATED', new UnauthenticatedError().message],
      [ResponseType.ACCESS_DENIED, 403, 'FORBIDDEN', new ForbiddenError('$context.authorizer.requiredRole').message],
      [ResponseType.AUTHORIZER_FAILURE, 500, 'AUTHORIZER_FAILURE', authorizerFailed],
      [ResponseType.AUTHORIZER_CONFIGURATION_ERROR, 500, 'AUTHORIZER_FAILURE', authorizerFailed],
    ];
    for (const [type, status, code, detail] of gatewayResponses) {
      this.api.addGatewayResponse(`Gateway${type.responseType}`, {
        type,
        statusCode: String(status),
        responseHeaders: status === 401 ? { ...problemHeaders, 'WWW-Authenticate': '\'Bearer realm="switchyard"\'' } : problemHeaders,
        templates: { 'application/json': gatewayProblem(status, code, detail) },
      });
    }

    const bodyValidator = new RequestValidator(this, 'BodyValidator', {
      restApi: this.api,
      requestValidatorName: 'body-and-parameters',
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const paramsValidator = new RequestValidator(this, 'ParamsValidator', {
      restApi: this.api,
      requestValidatorName: 'parameters',
      validateRequestBody: false,
      validateRequestParameters: true,
    });

    // API Gateway's result cache is off: its key needs every identity source present, and callers send
    // either Authorization or X-API-Key. The authorizer caches principals itself (shared/auth/authorizer.ts).
    const authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler: props.authorizerFunction,
      identitySources: [],
      resultsCacheTtl: Duration.seconds(0),
      authorizerName: 'switchyard-jwt-or-api-key',
    });

    const integrations = new Map<ApiFunctionName, LambdaIntegration>();
    const integrationFor = (name: ApiFunctionName) => {
      let integration = integrations.get(name);
      if (!integration) {
        // One permission per function for the whole API instead of two per method (resource-policy size).
        integration = new LambdaIntegration(props.functions[name], { proxy: true, scopePermissionToMethod: false });
        integrations.set(name, integration);
      }
      return integration;
    };

    for (const route of props.routes) {
      const resource = this.resourceFor(route.path);
      const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
      const requestParameters = Object.fromEntries(pathParams.map((p) => [`method.request.path.${p}`, true]));
      const model = route.body
        ? new Model(this, `${route.operationId}Model`, {
            restApi: this.api,
            modelName: `${route.operationId}Request`,
            contentType: 'application/json',
            schema: gatewayModelSchema(route.body) as never,
          })
        : undefined;
      resource.addMethod(route.method, integrationFor(route.functionName), {
        operationName: route.operationId,
        requestParameters,
        requestValidator: model ? bodyValidator : paramsValidator,
        ...(route.access === 'public'
          ? { authorizationType: AuthorizationType.NONE }
          : { authorizer, authorizationType: AuthorizationType.CUSTOM }),
        ...(model ? { requestModels: { 'application/json': model } } : {}),
      });
    }
  }

  private resourceFor(path: string): IResource {
    let resource: IResource = this.api.root;
    for (const part of path.split('/').filter(Boolean)) {
      resource = resource.getResource(part) ?? resource.addResource(part);
    }
    return resource;
  }
}
