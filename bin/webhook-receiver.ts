#!/usr/bin/env node
/**
 * A webhook receiver to run beside Switchyard (`npm run webhook-receiver`):
 * verifies every POST with the `standardwebhooks` library (the reference
 * implementation, not Switchyard's signer), prints one line per delivery, and
 * plays a bad endpoint on demand. Tests start it in-process with
 * `startWebhookReceiver`.
 *
 * Secrets come from `--secret` (repeatable: during a rotation give both) or
 * from WEBHOOK_SECRET (space-separated), which keeps them out of `ps`. They
 * are never printed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

const USAGE = `usage:
  npm run webhook-receiver -- --port 4000 --secret whsec_… [--secret whsec_… (rotation)]
                              [--fail-rate 0.3] [--status 500] [--delay-ms 200] [--retry-after 5]
                              [--host 127.0.0.1] [--verbose]

  --secret       a subscription's whsec_ secret; repeat it during a rotation (any one verifying is enough);
                 or WEBHOOK_SECRET="whsec_… whsec_…" in the environment, which keeps secrets out of ps
  --fail-rate    share of verified deliveries answered with --status (default 0; 1 when only --status is given)
  --status       the status of those answers (default 500; 410 asks Switchyard to disable the subscription)
  --delay-ms     wait this long before every answer (a slow endpoint; Switchyard gives up after 10 s)
  --retry-after  add Retry-After: <seconds> to the failing answers (honoured on 429 and 503)
  --verbose      print each delivery's body too`;

const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookReceiverOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** `whsec_` secrets; a delivery verifies when any one of them does. */
  secrets: readonly string[];
  /** 0–1: the share of verified deliveries answered with `status`. */
  failRate?: number;
  /** The failing answer's status (default 500). */
  status?: number;
  delayMs?: number;
  /** Seconds, sent as Retry-After on failing answers. */
  retryAfter?: number;
  verbose?: boolean;
  /** Where lines go (default console.log). */
  log?: (line: string) => void;
  /** For tests: decides the fail rate (default Math.random). */
  random?: () => number;
  /**
   * The sender's clock, when it is not the wall clock: a local runtime on a
   * scaled clock (`switchyard:local:timeScale`) signs with its simulated time,
   * which runs ahead of ours; `webhook-timestamp` is checked against this.
   * `GET <aws endpoint>/_switchyard/clock` answers both numbers.
   */
  senderClock?: { now: number; timeScale: number };
}

export interface ReceivedDelivery {
  /** `webhook-id`: the same on every attempt of one delivery. */
  id: string;
  /** The nth time this `webhook-id` arrived. */
  attempt: number;
  /** An earlier attempt of this id was already answered 2xx. */
  duplicate: boolean;
  verified: boolean;
  /** Why verification refused it. */
  reason?: string;
  /** What the receiver answered. */
  status: number;
  type?: string;
  subject?: string;
  /** Event time (CloudEvent `time`) → received, else webhook-timestamp → received; ms. */
  latencyMs?: number;
  receivedAt: Date;
  body: string;
  headers: Record<string, string>;
}

/** What a running receiver can change without a restart (tests and benchmarks: a secret learnt after subscribing, an endpoint going down and up). */
export type WebhookReceiverSettings = Pick<WebhookReceiverOptions, 'secrets' | 'failRate' | 'status' | 'delayMs' | 'retryAfter'>;

export interface WebhookReceiver {
  url: string;
  port: number;
  deliveries: ReceivedDelivery[];
  /** Changes the given settings for the next deliveries; checked like the options. */
  update(settings: Partial<WebhookReceiverSettings>): void;
  close(): Promise<void>;
}

function checkOptions(options: WebhookReceiverOptions): Required<Pick<WebhookReceiverOptions, 'failRate' | 'status' | 'delayMs'>> {
  if (options.secrets.length === 0) throw new Error('webhook receiver: give at least one --secret (or WEBHOOK_SECRET)');
  options.secrets.forEach((secret, index) => {
    try {
      new Webhook(secret);
    } catch {
      // Never quote the secret itself.
      throw new Error(`webhook receiver: secret ${index + 1} is not a whsec_ secret (whsec_ followed by base64)`);
    }
  });
  const status = options.status ?? 500;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new Error(`--status wants 200–599, got ${status}`);
  const failRate = options.failRate ?? (options.status !== undefined ? 1 : 0);
  if (!(failRate >= 0 && failRate <= 1)) throw new Error(`--fail-rate wants 0–1, got ${failRate}`);
  const delayMs = options.delayMs ?? 0;
  if (!(delayMs >= 0)) throw new Error(`--delay-ms wants a non-negative number, got ${delayMs}`);
  if (options.retryAfter !== undefined && !(Number.isInteger(options.retryAfter) && options.retryAfter >= 0)) {
    throw new Error(`--retry-after wants whole seconds, got ${options.retryAfter}`);
  }
  return { status, failRate, delayMs };
}

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

const headerMap = (request: IncomingMessage): Record<string, string> =>
  Object.fromEntries(Object.entries(request.headers).flatMap(([name, value]) => (typeof value === 'string' ? [[name, value]] : [])));

const realNow = Date.now.bind(Date);

/** Epoch ms on the sender's clock: the wall clock, or a scaled one anchored at `clock.now` when it was read (`readAt`). */
function senderNow(clock: { now: number; timeScale: number; readAt: number } | undefined): number {
  return clock ? clock.now + (realNow() - clock.readAt) * clock.timeScale : realNow();
}

/**
 * Accepted when any secret verifies; else the refusal (headers and timestamp are checked before the signature, so every secret gives the same reason).
 * The library reads Date.now() for its 5-minute timestamp window and takes no clock, so for a sender on another clock Date.now
 * answers that clock for the duration of the (synchronous) verify call.
 */
function verify(
  verifiers: readonly Webhook[],
  body: Buffer,
  headers: Record<string, string>,
  clock?: { now: number; timeScale: number; readAt: number },
): { ok: true } | { ok: false; reason: string } {
  if (clock) {
    Date.now = () => senderNow(clock);
    try {
      return verify(verifiers, body, headers);
    } finally {
      Date.now = realNow;
    }
  }
  let reason = 'No matching signature found';
  for (const verifier of verifiers) {
    try {
      verifier.verify(body, headers, { jsonParse: false });
      return { ok: true };
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) return { ok: false, reason: `cannot verify: ${String(error)}` };
      reason = error.message;
    }
  }
  return { ok: false, reason };
}

function eventFields(body: string): { type?: string; subject?: string; time?: string } {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const { type, subject, time } = parsed as Record<string, unknown>;
    return {
      ...(typeof type === 'string' ? { type } : {}),
      ...(typeof subject === 'string' ? { subject } : {}),
      ...(typeof time === 'string' ? { time } : {}),
    };
  } catch {
    return {};
  }
}

const timeOfDay = (date: Date) => date.toISOString().slice(11, 23);

export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  let settings: WebhookReceiverSettings = { ...options };
  const clock = options.senderClock ? { ...options.senderClock, readAt: realNow() } : undefined;
  let { status: failStatus, failRate, delayMs } = checkOptions(options);
  let verifiers = options.secrets.map((secret) => new Webhook(secret));
  const log = options.log ?? ((line: string) => console.log(line));
  const random = options.random ?? Math.random;
  const deliveries: ReceivedDelivery[] = [];
  const attempts = new Map<string, { count: number; acknowledged: boolean }>();

  const answer = async (response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    response.end(text ? `${text}\n` : '');
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST') return answer(response, 405, 'POST only', { allow: 'POST' });
    const raw = await readBody(request);
    if (raw === undefined) return answer(response, 413, `body over ${MAX_BODY_BYTES} bytes`);
    const receivedAt = new Date();
    const headers = headerMap(request);
    const id = headers['webhook-id'] ?? '';
    const body = raw.toString('utf8');
    const seen = attempts.get(id) ?? { count: 0, acknowledged: false };
    seen.count += 1;
    if (id) attempts.set(id, seen);
    const { type, subject, time } = eventFields(body);
    const since = time ? Date.parse(time) : Number(headers['webhook-timestamp']) * 1000;
    const latencyMs = Number.isFinite(since) ? senderNow(clock) - since : undefined;

    const verdict = verify(verifiers, raw, headers, clock);
    let status: number;
    let note = '';
    let extra: Record<string, string> = {};
    if (!verdict.ok) {
      status = 401;
      note = `  refused: ${verdict.reason}`;
    } else if (failRate > 0 && random() < failRate) {
      status = failStatus;
      note = '  (played failure)';
      if (settings.retryAfter !== undefined) extra = { 'retry-after': String(settings.retryAfter) };
    } else {
      status = 204;
    }
    const duplicate = status < 300 && seen.acknowledged;
    if (status < 300) seen.acknowledged = true;
    deliveries.push({
      id,
      attempt: seen.count,
      duplicate,
      verified: verdict.ok,
      ...(verdict.ok ? {} : { reason: verdict.reason }),
      status,
      ...(type !== undefined ? { type } : {}),
      ...(subject !== undefined ? { subject } : {}),
      ...(latencyMs !== undefined ? { latencyMs } : {}),
      receivedAt,
      body,
      headers,
    });
    const latency = latencyMs !== undefined ? `${latencyMs} ms` : '-';
    log(
      `${timeOfDay(receivedAt)}  ${status}  ${id || '(no webhook-id)'}  ${type ?? '-'}  ${subject ?? '-'}  attempt ${seen.count}  latency ${latency}${duplicate ? '  duplicate' : ''}${note}`,
    );
    if (options.verbose) log(body);
    return answer(response, status, verdict.ok ? '' : `webhook signature refused: ${verdict.reason}`, extra);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(`error: ${error instanceof Error ? error.message : String(error)}`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    deliveries,
    update: (changes) => {
      const next = { ...settings, ...changes };
      // Without a new status, a new fail rate keeps the failing answer it had.
      ({
        status: failStatus,
        failRate,
        delayMs,
      } = checkOptions({ ...next, status: next.status ?? failStatus, failRate: next.failRate ?? failRate }));
      settings = next;
      verifiers = next.secrets.map((secret) => new Webhook(secret));
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const number = (flag: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new Error(`--${flag} wants a number, got ${raw}`);
  return value;
};

/** The command line (and WEBHOOK_SECRET) as options. */
export function parseReceiverArgs(args: string[], env: Record<string, string | undefined> = process.env): WebhookReceiverOptions {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', short: 'p', default: '4000' },
      host: { type: 'string', default: '127.0.0.1' },
      secret: { type: 'string', short: 's', multiple: true, default: [] },
      'fail-rate': { type: 'string' },
      status: { type: 'string' },
      'delay-ms': { type: 'string' },
      'retry-after': { type: 'string' },
      verbose: { type: 'boolean', short: 'v', default: false },
    },
  });
  const secrets = values.secret.length > 0 ? values.secret : (env.WEBHOOK_SECRET ?? '').split(/\s+/).filter(Boolean);
  const optional = <K extends string>(key: K, value: number | undefined) =>
    value === undefined ? {} : ({ [key]: value } as Record<K, number>);
  const port = number('port', values.port);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port wants 0–65535, got ${values.port}`);
  return {
    port,
    host: values.host,
    secrets,
    verbose: values.verbose,
    ...optional('failRate', number('fail-rate', values['fail-rate'])),
    ...optional('status', number('status', values.status)),
    ...optional('delayMs', number('delay-ms', values['delay-ms'])),
    ...optional('retryAfter', number('retry-after', values['retry-after'])),
  };
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  let options: WebhookReceiverOptions;
  try {
    options = parseReceiverArgs(args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const receiver = await startWebhookReceiver(options);
  const plays =
    (options.failRate ?? (options.status !== undefined ? 1 : 0)) > 0
      ? `; answering ${options.status ?? 500} to ${Math.round((options.failRate ?? 1) * 100)}% of deliveries`
      : '';
  console.log(
    `webhook-receiver: listening on ${receiver.url} with ${options.secrets.length} secret${options.secrets.length === 1 ? '' : 's'}${plays}${options.delayMs ? `, ${options.delayMs} ms late` : ''}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      const count = (predicate: (d: ReceivedDelivery) => boolean) => receiver.deliveries.filter(predicate).length;
      const ids = new Set(receiver.deliveries.filter((d) => d.status < 300).map((d) => d.id));
      console.log(
        `\nwebhook-receiver: ${signal}; ${receiver.deliveries.length} requests, ${ids.size} deliveries acknowledged, ` +
          `${count((d) => d.duplicate)} duplicates, ${count((d) => !d.verified)} refused, ${count((d) => d.verified && d.status >= 300)} failures played`,
      );
      void receiver.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
