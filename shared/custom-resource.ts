/**
 * The CloudFormation custom resource protocol: the handler PUTs its result to
 * the pre-signed ResponseURL. Written out (a fetch) because AWS's cfn-response
 * module exists only for inline code and CDK's Provider framework would add
 * two more functions for one call.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

/**
 * fetch waits forever by default. An S3 PUT of a few hundred bytes takes well
 * under a second; past this the function fails loudly (and its own error path
 * reports FAILED) instead of sitting until the Lambda timeout with
 * CloudFormation none the wiser.
 */
export const CUSTOM_RESOURCE_PUT_TIMEOUT_MS = 10_000;

export async function sendCustomResourceResponse(
  event: CloudFormationCustomResourceEvent,
  result: { status: 'SUCCESS' | 'FAILED'; physicalResourceId: string; reason?: string; data?: Record<string, string> },
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? CUSTOM_RESOURCE_PUT_TIMEOUT_MS;
  const body = JSON.stringify({
    Status: result.status,
    Reason: result.reason ?? (result.status === 'SUCCESS' ? 'OK' : 'Failed'),
    PhysicalResourceId: result.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: result.data ?? {},
  });
  let response: Response;
  try {
    response = await fetch(event.ResponseURL, {
      method: 'PUT',
      // The pre-signed S3 URL is signed for an empty content type.
      headers: { 'Content-Type': '', 'Content-Length': String(Buffer.byteLength(body)) },
      body,
      // Covers connecting, sending and the response headers.
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read (and discard) the body under the same signal, so a stalled body cannot hang us either.
    await response.arrayBuffer();
  } catch (error) {
    if ((error as Error).name === 'TimeoutError')
      throw new Error(`CloudFormation response PUT gave up after ${timeoutMs} ms`, { cause: error });
    throw error;
  }
  if (!response.ok) throw new Error(`CloudFormation response PUT failed: ${response.status}`);
}
