/**
 * The one middleware chain of every event-driven function (stream, queue,
 * schedule): Powertools' Lambda context on the logger (keys reset per
 * invocation), a traced handler (responses not captured: batch responses
 * carry record ids, nothing worth a segment), and metrics flushed at the
 * end. API functions have their own chain (shared/http/middleware.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './telemetry.js';

export function eventFunction<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  return middy(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics));
}
