/** Per-request identifiers and timestamps in the formats API Gateway uses. */
import { randomBytes, randomUUID } from 'node:crypto';

export function newRequestId(): string {
  return randomUUID();
}

/** `extendedRequestId` / `x-amz-apigw-id`: 16 base64 characters ending in `=`, e.g. `BQGojGEQSwMEXDg=`. */
export function newExtendedRequestId(): string {
  return randomBytes(11).toString('base64');
}

/** The X-Ray trace header API Gateway passes to the integration. */
export { traceHeaderFor } from '../trace.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000` (CLF, UTC). */
export function formatRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
