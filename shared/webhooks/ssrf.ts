/**
 * SSRF guard for webhook URLs (DESIGN.md §5).
 *
 * Two halves, used at subscription creation and again at every delivery:
 *
 * 1. `checkWebhookUrl` parses the URL with the WHATWG parser (so decimal, hex,
 *    octal and short IPv4 forms are already normalized to dotted quads and IPv6
 *    to its compressed form), refuses a scheme, credentials or a loopback name
 *    the policy does not allow, resolves the host, and refuses it unless EVERY
 *    address passes: one bad answer among good ones is enough for an attacker.
 *    IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible,
 *    NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address inside.
 *
 * 2. `pinnedDispatcher` connects ONLY to the addresses that were checked: its
 *    connector's `lookup` answers them without asking DNS again, so a name that
 *    rebinds between check and connect (TTL 0, answer public then 127.0.0.1)
 *    still reaches the checked address. The URL keeps the hostname, so undici
 *    sends it as TLS SNI and verifies the certificate against it, and the Host
 *    header stays the receiver's. As a second lock, a socket whose remote
 *    address is not a checked one is destroyed before the request is written.
 *    No redirect is followed (a 3xx is the receiver's answer, and following it
 *    would bypass the check), and no proxy from the environment is used.
 *
 * `guardedPost` is what the dispatcher calls per delivery: check (DNS at
 * delivery time), POST through a fresh pinned agent, read the first KiB of the
 * answer, close. One agent per delivery gives up keep-alive on purpose: a
 * pooled socket would outlive the check that admitted it.
 *
 * Domain code: no AWS SDK here.
 */
import { promises as dns } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Socket } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import { RuleViolationError } from '../domain/errors.js';

export interface WebhookUrlPolicy {
  /** Plain http; only the local runtime allows it. */
  allowHttp: boolean;
  /** 127/8, ::1 and `localhost` names; only the local runtime allows them (receivers run on the same machine). */
  allowLoopback: boolean;
}

/** A deployed stack: https to public addresses only. */
export const DEPLOYED_WEBHOOK_POLICY: WebhookUrlPolicy = Object.freeze({ allowHttp: false, allowLoopback: false });
/** The local runtime: http and loopback as well, nothing else of the refused list. */
export const LOCAL_WEBHOOK_POLICY: WebhookUrlPolicy = Object.freeze({ allowHttp: true, allowLoopback: true });

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

export interface CheckedWebhookUrl {
  url: URL;
  addresses: CheckedAddress[];
}

/** Resolves a hostname to every address it has (A and AAAA). Injected in tests. */
export type ResolveHost = (hostname: string) => Promise<CheckedAddress[]>;

export const resolveWithDns: ResolveHost = async (hostname) => {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map(({ address }) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
};

export type RefusalRule = 'invalid-url' | 'scheme' | 'credentials' | 'loopback-name' | 'address' | 'unresolved';

export type AddressKind = 'loopback' | 'unspecified' | 'private' | 'link-local' | 'metadata' | 'carrier-grade NAT' | 'multicast';

/** Why an address is refused: the range it falls in, and the IPv4 address it carries if it is an embedding form. */
export interface AddressRefusal {
  kind: AddressKind;
  range: string;
  embedded?: { form: string; ipv4: string };
}

/** 422 `WEBHOOK_URL_REFUSED`; `rule` (and for addresses `refusal`) say which rule refused, for callers and tests. */
export class WebhookUrlRefusedError extends RuleViolationError {
  constructor(
    message: string,
    readonly rule: RefusalRule,
    readonly refusal?: AddressRefusal & { address: string },
  ) {
    super(message, 'WEBHOOK_URL_REFUSED', [{ path: 'url', message }]);
  }
}

interface RefusedRange {
  kind: AddressKind;
  range: string;
  list: BlockList;
}

function range(kind: AddressKind, cidr: string): RefusedRange {
  const [network = '', bits = ''] = cidr.split('/');
  const family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
  const list = new BlockList();
  list.addSubnet(network, Number(bits), family);
  return { kind, range: cidr, list };
}

// Order matters only for the message: the metadata addresses before the ranges holding them.
const IPV4_RANGES: readonly RefusedRange[] = [
  range('metadata', '169.254.169.254/32'),
  range('loopback', '127.0.0.0/8'),
  range('unspecified', '0.0.0.0/8'),
  range('private', '10.0.0.0/8'),
  range('private', '172.16.0.0/12'),
  range('private', '192.168.0.0/16'),
  range('link-local', '169.254.0.0/16'),
  range('carrier-grade NAT', '100.64.0.0/10'),
  range('multicast', '224.0.0.0/4'),
];

// IPv6-only rules: a BlockList matches IPv4-mapped addresses against IPv4 rules, and those are judged apart (embeddedIpv4).
const IPV6_RANGES: readonly RefusedRange[] = [
  range('metadata', 'fd00:ec2::254/128'),
  range('loopback', '::1/128'),
  range('unspecified', '::/128'),
  range('private', 'fc00::/7'),
  // RFC 8215 local-use NAT64: a translator inside the operator's network, so as private as fc00::/7.
  range('private', '64:ff9b:1::/48'),
  range('link-local', 'fe80::/10'),
  range('multicast', 'ff00::/8'),
];

/** The 16 bytes of a valid IPv6 address (zone id removed), including a trailing dotted quad. */
function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const words: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    tail = [(a << 8) | b, (c << 8) | d];
    text = text.slice(0, -dotted[1].length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((w) => parseInt(w, 16)));
  const left = parse(head);
  const right = [...(rest === undefined ? [] : parse(rest)), ...tail];
  if (rest === undefined) words.push(...left, ...right);
  else words.push(...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right);
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

const dottedQuad = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const allZero = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/** The IPv4 address an IPv6 address stands for, if it is one of the forms that reach an IPv4 host. */
function embeddedIpv4(address: string): { form: string; ipv4: string } | undefined {
  const b = ipv6Bytes(address);
  if (allZero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return { form: 'IPv4-mapped', ipv4: dottedQuad(b, 12) };
  if (allZero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && allZero(b, 10, 12)) return { form: 'IPv4-translated', ipv4: dottedQuad(b, 12) };
  // ::/96; :: and ::1 never get here, refusalOf judges them as themselves (unspecified, loopback) first.
  if (allZero(b, 0, 12)) return { form: 'IPv4-compatible', ipv4: dottedQuad(b, 12) };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && allZero(b, 4, 12))
    return { form: 'NAT64 (64:ff9b::/96)', ipv4: dottedQuad(b, 12) };
  if (b[0] === 0x20 && b[1] === 0x02) return { form: '6to4 (2002::/16)', ipv4: dottedQuad(b, 2) };
  return undefined;
}

function firstMatch(ranges: readonly RefusedRange[], address: string, family: 'ipv4' | 'ipv6', policy: WebhookUrlPolicy) {
  const hit = ranges.find((r) => r.list.check(address, family));
  if (!hit || (hit.kind === 'loopback' && policy.allowLoopback)) return undefined;
  return { kind: hit.kind, range: hit.range };
}

/** Why `address` may not be connected to under `policy`, or undefined if it may. */
export function refusalOf(address: string, policy: WebhookUrlPolicy): AddressRefusal | undefined {
  const bare = address.replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) return firstMatch(IPV4_RANGES, bare, 'ipv4', policy);
  // Not an IP at all: refuse rather than guess (a resolver must answer addresses).
  if (family !== 6) return { kind: 'unspecified', range: 'not an IP address' };
  const direct = firstMatch(IPV6_RANGES, bare, 'ipv6', policy);
  if (direct) return direct;
  // An allowed loopback ::1 is not also "IPv4-compatible 0.0.0.1".
  if (IPV6_RANGES.some((r) => r.list.check(bare, 'ipv6'))) return undefined;
  const embedded = embeddedIpv4(bare);
  if (!embedded) return undefined;
  const inner = firstMatch(IPV4_RANGES, embedded.ipv4, 'ipv4', policy);
  return inner && { ...inner, embedded };
}

/** "a private address (10.0.0.0/8)", or for an embedding form "the NAT64 … form of 10.0.0.1, a private address (…)". */
function describe(refusal: AddressRefusal): string {
  const what =
    refusal.kind === 'metadata'
      ? `the instance metadata address (${refusal.range})`
      : `${refusal.kind === 'unspecified' ? 'an' : 'a'} ${refusal.kind} address (${refusal.range})`;
  return refusal.embedded ? `the ${refusal.embedded.form} form of ${refusal.embedded.ipv4}, ${what}` : what;
}

const isLoopbackName = (hostname: string) => /(^|\.)localhost$/.test(hostname.replace(/\.+$/, ''));

/**
 * Parses and checks a webhook URL; resolves its host with `resolve` and checks every address.
 * Throws WebhookUrlRefusedError (422) naming the rule; answers the URL and the addresses to pin.
 */
export async function checkWebhookUrl(
  raw: string,
  policy: WebhookUrlPolicy,
  resolve: ResolveHost = resolveWithDns,
): Promise<CheckedWebhookUrl> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlRefusedError('Webhook URL is not a valid absolute URL', 'invalid-url');
  }
  const schemes = policy.allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    const allowed = policy.allowHttp ? 'https or http' : 'https';
    throw new WebhookUrlRefusedError(`Webhook URL must use ${allowed}, not ${url.protocol.slice(0, -1)}`, 'scheme');
  }
  if (url.username || url.password) {
    // They would be stored and shown with the subscription; receivers authenticate deliveries by signature.
    throw new WebhookUrlRefusedError('Webhook URL must not carry credentials (user:password@)', 'credentials');
  }

  const hostname = url.hostname;
  const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (isIP(literal)) {
    const refusal = refusalOf(literal, policy);
    if (refusal) {
      throw new WebhookUrlRefusedError(`Webhook host ${literal} is ${describe(refusal)}`, 'address', { address: literal, ...refusal });
    }
    return { url, addresses: [{ address: literal, family: isIP(literal) === 6 ? 6 : 4 }] };
  }

  // RFC 6761: resolvers may answer localhost names from anywhere; refuse them by name.
  if (isLoopbackName(hostname) && !policy.allowLoopback) {
    throw new WebhookUrlRefusedError(`Webhook host ${hostname} is a loopback name`, 'loopback-name');
  }

  let addresses: CheckedAddress[];
  try {
    addresses = await resolve(hostname);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    throw new WebhookUrlRefusedError(`Webhook host ${hostname} does not resolve${code ? ` (${code})` : ''}`, 'unresolved');
  }
  if (addresses.length === 0) {
    throw new WebhookUrlRefusedError(`Webhook host ${hostname} does not resolve (no addresses)`, 'unresolved');
  }
  for (const { address } of addresses) {
    const refusal = refusalOf(address, policy);
    if (refusal) {
      throw new WebhookUrlRefusedError(`Webhook host ${hostname} resolves to ${address}, ${describe(refusal)}`, 'address', {
        address,
        ...refusal,
      });
    }
  }
  return { url, addresses: addresses.map(({ address, family }) => ({ address: address.replace(/%.*$/, ''), family })) };
}

/** Per DESIGN §5: each attempt gets 10 s in all. */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The `lookup` a pinned connection uses: the checked addresses for the checked hostname, DNS never again. */
export function pinnedLookup(checked: CheckedWebhookUrl): LookupFunction {
  const hostname = checked.url.hostname;
  const notFound = (message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code: 'ENOTFOUND' });
  return (host, options, callback) => {
    if (host !== hostname) {
      callback(notFound(`Pinned connection for ${hostname} asked to resolve ${host}`), '', 0);
      return;
    }
    const family = familyOf(options.family);
    const matching = checked.addresses.filter((a) => family === undefined || a.family === family);
    const [first] = matching;
    if (!first) {
      callback(notFound(`No checked IPv${family} address for ${hostname}`), '', 0);
      return;
    }
    // Node asks for all addresses when it races IPv6 and IPv4 (autoSelectFamily, the default since Node 20).
    if (options.all) (callback as unknown as (err: null, addresses: CheckedAddress[]) => void)(null, matching);
    else callback(null, first.address, first.family);
  };
}

function familyOf(family: number | string | undefined): 4 | 6 | undefined {
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return undefined;
}

export interface PinnedDispatcherOptions {
  /** Connect, headers and body timeouts; tests shorten it. */
  timeoutMs?: number;
  /** CA certificates to trust instead of Node's bundle; for tests (a receiver with a self-signed certificate). */
  ca?: string | Buffer;
}

/** An undici Agent whose connections go only to `checked.addresses`; SNI and certificate checks use the hostname. */
export function pinnedDispatcher(checked: CheckedWebhookUrl, options: PinnedDispatcherOptions = {}): Agent {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const allowed = new Set(checked.addresses.map((a) => a.address));
  // With a connector function, Agent's connectTimeout is not used: the connector's timeout is the connect timeout.
  const connectPinned = buildConnector({
    lookup: pinnedLookup(checked),
    timeout: timeoutMs,
    ...(options.ca ? { ca: options.ca } : {}),
  });
  const connect: buildConnector.connector = (connectOptions, callback) => {
    connectPinned(connectOptions, (error, socket) => {
      if (error || !socket) {
        callback(error ?? new Error('connect failed'), null);
        return;
      }
      // Second lock: whatever path Node took, the peer must be a checked address.
      const remote = (socket as Socket).remoteAddress?.replace(/%.*$/, '');
      if (!remote || !allowed.has(remote)) {
        socket.destroy();
        callback(new PinnedAddressError(checked.url.hostname, remote), null);
        return;
      }
      callback(null, socket);
    });
  };
  return new Agent({
    connect,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    maxRedirections: 0,
    // No pooled socket outlives this delivery's check.
    pipelining: 0,
  });
}

/** The connection reached an address that was not checked; never expected, refused if it happens. */
export class PinnedAddressError extends Error {
  readonly code = 'WEBHOOK_UNPINNED_ADDRESS';
  constructor(hostname: string, remote: string | undefined) {
    super(`Connection for ${hostname} reached ${remote ?? 'an unknown address'}, which was not checked`);
    this.name = 'PinnedAddressError';
  }
}

export interface WebhookResponse {
  status: number;
  headers: Record<string, string>;
  /** The first 1 KiB of the body, decoded as UTF-8 (a character cut at the end becomes U+FFFD). */
  bodyFirstKiB: string;
  latencyMs: number;
}

/**
 * How an attempt failed without an HTTP answer. `refused` and `unresolved` come from the guard
 * (`refused` will not change by retrying; `unresolved` may); the rest are the network's.
 */
export type DeliveryFailureKind = 'refused' | 'unresolved' | 'timeout' | 'connection-refused' | 'tls' | 'network';

export class WebhookDeliveryError extends Error {
  constructor(
    readonly kind: DeliveryFailureKind,
    message: string,
    readonly latencyMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WebhookDeliveryError';
  }
}

export interface GuardedPostOptions extends PinnedDispatcherOptions {
  resolve?: ResolveHost;
}

const BODY_KEEP_BYTES = 1024;

/**
 * One delivery attempt: checks `url` again (DNS now, not at creation), POSTs `body` to the checked
 * addresses only, and answers status, headers, the first KiB and latency. Any status is an answer
 * (3xx included: redirects are not followed); failures throw WebhookDeliveryError.
 * The whole attempt, DNS included, gets `timeoutMs`.
 */
export async function guardedPost(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: WebhookUrlPolicy,
  options: GuardedPostOptions = {},
): Promise<WebhookResponse> {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const deadline = AbortSignal.timeout(timeoutMs);

  let checked: CheckedWebhookUrl;
  try {
    checked = await Promise.race([
      checkWebhookUrl(url, policy, options.resolve),
      new Promise<never>((_, reject) => {
        deadline.addEventListener('abort', () => reject(deadline.reason), { once: true });
      }),
    ]);
  } catch (error) {
    throw failure(error, elapsed());
  }

  const agent = pinnedDispatcher(checked, { timeoutMs, ca: options.ca });
  try {
    const response = await request(checked.url, {
      dispatcher: agent,
      method: 'POST',
      headers,
      body,
      maxRedirections: 0,
      signal: deadline,
    });
    const kept: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      kept.push(chunk);
      size += chunk.length;
      if (size >= BODY_KEEP_BYTES) break; // leaving the loop destroys the stream: the rest is never read
    }
    const bodyFirstKiB = new TextDecoder().decode(Buffer.concat(kept).subarray(0, BODY_KEEP_BYTES));
    return { status: response.statusCode, headers: flatten(response.headers), bodyFirstKiB, latencyMs: elapsed() };
  } catch (error) {
    throw failure(error, elapsed());
  } finally {
    agent.destroy().catch(() => undefined);
  }
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function codeOf(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    if (e.name === 'TimeoutError') return 'ETIMEDOUT';
  }
  return undefined;
}

function failure(error: unknown, latencyMs: number): WebhookDeliveryError {
  if (error instanceof WebhookUrlRefusedError) {
    return new WebhookDeliveryError(error.rule === 'unresolved' ? 'unresolved' : 'refused', error.message, latencyMs, {
      cause: error,
    });
  }
  const code = codeOf(error) ?? '';
  const detail = error instanceof Error ? error.message : String(error);
  if (error instanceof PinnedAddressError || code === 'WEBHOOK_UNPINNED_ADDRESS')
    return new WebhookDeliveryError('refused', detail, latencyMs, { cause: error });
  if (TIMEOUT_CODES.has(code))
    return new WebhookDeliveryError('timeout', `No answer within the timeout (${code})`, latencyMs, { cause: error });
  if (code === 'ECONNREFUSED') return new WebhookDeliveryError('connection-refused', detail, latencyMs, { cause: error });
  if (/^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/.test(code) || /\bTLS\b|\bSSL\b/.test(detail))
    return new WebhookDeliveryError('tls', detail, latencyMs, { cause: error });
  return new WebhookDeliveryError('network', code ? `${detail} (${code})` : detail, latencyMs, { cause: error });
}
