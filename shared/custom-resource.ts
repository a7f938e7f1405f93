/**
 * The CloudFormation custom resource protocol: the handler PUTs its result to
 * the pre-signed ResponseURL. Written out (a fetch) because AWS's cfn-response
 * module exists only for inline code and CDK's Provider framework would add
 * two more functions for one call.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export async function sendCustomResourceResponse(
  event: CloudFormationCustomResourceEvent,
  result: { status: 'SUCCESS' | 'FAILED'; physicalResourceId: string; reason?: string; data?: Record<string, string> },
): Promise<void> {
  const body = JSON.stringify({
    Status: result.status,
    Reason: result.reason ?? (result.status === 'SUCCESS' ? 'OK' : 'Failed'),
    PhysicalResourceId: result.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: result.data ?? {},
  });
  const response = await fetch(event.ResponseURL, {
    method: 'PUT',
    // The pre-signed S3 URL is signed for an empty content type.
    headers: { 'Content-Type': '', 'Content-Length': String(Buffer.byteLength(body)) },
    body,
  });
  if (!response.ok) throw new Error(`CloudFormation response PUT failed: ${response.status}`);
}
