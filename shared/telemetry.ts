/**
 * One Logger, Tracer and Metrics per execution environment, configured from the
 * POWERTOOLS_* environment the stack sets on every function (lib/function.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const logger = new Logger();
export const tracer = new Tracer();
export const metrics = new Metrics();
