/** Per-request identifiers and timestamps in the formats API Gateway uses. */
import { randomBytes, randomUUID } from 'node:crypto';

export function newRequestId(): string {
  return randomUUID();
}

/** `extendedRequestId` / `x-amz-apigw-id`: 16 base64 characters ending in `=`, e.g. `BQGojGEQSwMEXDg=`. */
export function newExtendedRequestId(): string {
  return randomBytes(11).toString('base64');
}

/**
 * The X-Ray trace header API Gateway passes to the integration:
 * `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`.
 * An incoming header with a valid Root continues that trace (as API Gateway
 * does when a client or upstream service already started one); the Parent is
 * always new, because API Gateway's own segment is the parent of the call.
 */
export function traceHeaderFor(incoming: string | undefined, now = Date.now()): { header: string; rootId: string } {
  const rootMatch = incoming ? /Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/i.exec(incoming) : null;
  const sampledMatch = incoming ? /Sampled=([01])/.exec(incoming) : null;
  const rootId = rootMatch?.[1] ?? `1-${Math.floor(now / 1000).toString(16).padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
  const sampled = sampledMatch?.[1] ?? '1';
  return { header: `Root=${rootId};Parent=${randomBytes(8).toString('hex')};Sampled=${sampled}`, rootId };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000` (CLF, UTC). */
export function formatRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
