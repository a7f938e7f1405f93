/** Invoking a function from the gateway (integration or authorizer) within API Gateway's time limit. */
import type { InvokeResult } from '../types.js';

/** An invocation that failed to start (as opposed to a function error, which is an InvokeResult). */
export class InvocationFailure {
  constructor(readonly error: Error) {}
}

/**
 * The invocation's result, `'timeout'` past `ms`, or the failure to invoke.
 * The function keeps running after a gateway timeout (as on AWS); its late
 * failure is handled here, so it never goes unhandled.
 */
export function withTimeout(invocation: Promise<InvokeResult>, ms: number): Promise<InvokeResult | 'timeout' | InvocationFailure> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms, 'timeout');
    invocation.then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve(new InvocationFailure(err instanceof Error ? err : new Error(String(err))));
      },
    );
  });
}
