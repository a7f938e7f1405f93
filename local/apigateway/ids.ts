/**
 * Per-request identifiers and timestamps in the formats API Gateway uses.
 *
 * Every request needs about 30 random bytes (extended request id, trace root
 * and parent); one crypto call each costs more than the rest of the id work,
 * so they are drawn from a pooled buffer refilled 4 KiB at a time (what
 * `crypto.randomUUID` does internally for the request id).
 */
import { randomFillSync, randomUUID } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** Offset in `pool` of `n` fresh random bytes. */
function randomAt(n: number): number {
  if (poolOffset + n > POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += n;
  return at;
}

function randomHex(bytes: number): string {
  const at = randomAt(bytes);
  return pool.toString('hex', at, at + bytes);
}

export function newRequestId(): string {
  return randomUUID();
}

/** `extendedRequestId` / `x-amz-apigw-id`: 16 base64 characters ending in `=`, e.g. `BQGojGEQSwMEXDg=`. */
export function newExtendedRequestId(): string {
  const at = randomAt(11);
  return pool.toString('base64', at, at + 11);
}

const TRACE_ROOT = /Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/i;
const TRACE_SAMPLED = /Sampled=([01])/;

/**
 * The X-Ray trace header API Gateway passes to the integration and returns:
 * `Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=1`. An
 * incoming header with a valid Root continues that trace (as API Gateway does
 * when a client or upstream service already started one); the Parent is always
 * new, because API Gateway's own segment is the parent of the call. Same
 * format as local/trace.ts, with the pooled random bytes.
 */
export function traceHeaderFor(incoming: string | undefined, now = Date.now()): { header: string; rootId: string } {
  const rootMatch = incoming ? TRACE_ROOT.exec(incoming) : null;
  const sampled = (incoming ? TRACE_SAMPLED.exec(incoming)?.[1] : undefined) ?? '1';
  const rootId =
    rootMatch?.[1] ??
    `1-${Math.floor(now / 1000)
      .toString(16)
      .padStart(8, '0')}-${randomHex(12)}`;
  return { header: `Root=${rootId};Parent=${randomHex(8)};Sampled=${sampled}`, rootId };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** The last second formatted: requests arrive many per second and the text changes once a second. */
let formattedSecond = -1;
let formatted = '';

/** `requestContext.requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000` (CLF, UTC). */
export function formatRequestTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== formattedSecond) {
    const d = new Date(second * 1000);
    formatted = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
    formattedSecond = second;
  }
  return formatted;
}
