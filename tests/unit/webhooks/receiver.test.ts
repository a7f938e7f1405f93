/** The receiver users run: verifies with standardwebhooks, says why it refuses, plays a bad endpoint on demand. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseReceiverArgs,
  startWebhookReceiver,
  type WebhookReceiver,
  type WebhookReceiverOptions,
} from '../../../bin/webhook-receiver.js';
import { activeSecrets, DEFAULT_ROTATION_OVERLAP_SECONDS, rotateSecrets } from '../../../shared/domain/webhooks.js';
import { generateWebhookSecret, signatureHeaders } from '../../../shared/webhooks/signing.js';

const event = (n: number, time = new Date().toISOString()) =>
  JSON.stringify({
    specversion: '1.0',
    id: `e${n}`,
    source: 'switchyard/deployments',
    type: 'deployment.rolled_back',
    subject: `d${n}`,
    time,
    data: { n },
  });

let receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
  receivers = [];
});

async function start(options: Partial<WebhookReceiverOptions> & Pick<WebhookReceiverOptions, 'secrets'>) {
  const lines: string[] = [];
  const receiver = await startWebhookReceiver({ log: (line) => lines.push(line), ...options });
  receivers.push(receiver);
  return { receiver, lines };
}

function post(receiver: WebhookReceiver, body: string, headers: Record<string, string>) {
  return fetch(receiver.url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

const signed = (secrets: string[], body: string, id = 'dlv_1', timestamp = new Date()) =>
  signatureHeaders({ id, timestamp, body, secrets });

describe('verification', () => {
  it('accepts a signed delivery and prints one line with its id, type, subject, attempt and latency', async () => {
    const secret = generateWebhookSecret();
    const { receiver, lines } = await start({ secrets: [secret] });
    const body = event(1, new Date(Date.now() - 50).toISOString());
    const response = await post(receiver, body, signed([secret], body));
    expect(response.status).toBe(204);
    expect(receiver.deliveries).toMatchObject([
      { id: 'dlv_1', attempt: 1, verified: true, status: 204, type: 'deployment.rolled_back', subject: 'd1', body },
    ]);
    expect(receiver.deliveries[0]!.latencyMs).toBeGreaterThanOrEqual(50);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ 204 {2}dlv_1 {2}deployment\.rolled_back {2}d1 {2}attempt 1 {2}latency \d+ ms$/);
  });

  it('refuses with 401 and says why: no headers, another secret, a tampered body, an old timestamp', async () => {
    const secret = generateWebhookSecret();
    const { receiver, lines } = await start({ secrets: [secret] });
    const body = event(1);
    const cases: [Record<string, string>, string, RegExp][] = [
      [{}, body, /Missing required headers/],
      [signed([generateWebhookSecret()], body), body, /No matching signature found/],
      [signed([secret], body), body.replace('"n":1', '"n":2'), /No matching signature found/],
      [signed([secret], body, 'dlv_1', new Date(Date.now() - 6 * 60_000)), body, /timestamp too old/],
    ];
    for (const [headers, sent, reason] of cases) {
      const response = await post(receiver, sent, headers);
      expect(response.status).toBe(401);
      expect(await response.text()).toMatch(reason);
    }
    expect(receiver.deliveries.every((delivery) => !delivery.verified && delivery.status === 401)).toBe(true);
    expect(lines.map((line) => line.replace(/^\S+/, ''))).toEqual([
      expect.stringMatching(/401 {2}\(no webhook-id\).*refused: Missing required headers$/),
      expect.stringMatching(/401 {2}dlv_1 .*refused: No matching signature found$/),
      expect.stringMatching(/401 {2}dlv_1 .*refused: No matching signature found$/),
      expect.stringMatching(/401 {2}dlv_1 .*refused: Message timestamp too old$/),
    ]);
  });

  it('with several --secret (a rotation) accepts a delivery any one of them verifies', async () => {
    const [old, next] = [generateWebhookSecret(), generateWebhookSecret()];
    const { receiver } = await start({ secrets: [old!, next!] });
    const body = event(1);
    expect((await post(receiver, body, signed([old!], body, 'a'))).status).toBe(204);
    expect((await post(receiver, body, signed([next!], body, 'b'))).status).toBe(204);
    expect((await post(receiver, body, signed([generateWebhookSecret()], body, 'c'))).status).toBe(401);
  });

  it('across a rotation overlap: both sides verify during it, only the new secret after it', async () => {
    const [old, next] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const rotatedHoursAgo = (hours: number) => {
      const at = new Date(Date.now() - hours * 3_600_000).toISOString();
      return rotateSecrets([{ value: old, createdAt: at }], next, at, DEFAULT_ROTATION_OVERLAP_SECONDS);
    };
    const now = () => new Date().toISOString();
    const stillOld = await start({ secrets: [old] });
    const alreadyNew = await start({ secrets: [next] });
    const body = event(1);
    const during = signed(activeSecrets({ secrets: rotatedHoursAgo(23) }, now()), body);
    expect(during['webhook-signature'].split(' ')).toHaveLength(2);
    expect((await post(stillOld.receiver, body, during)).status).toBe(204);
    expect((await post(alreadyNew.receiver, body, during)).status).toBe(204);

    const after = signed(activeSecrets({ secrets: rotatedHoursAgo(25) }, now()), body, 'dlv_2');
    expect((await post(stillOld.receiver, body, after)).status).toBe(401);
    expect((await post(alreadyNew.receiver, body, after)).status).toBe(204);
  });

  it('never prints a secret, even with --verbose', async () => {
    const secret = generateWebhookSecret();
    const { receiver, lines } = await start({ secrets: [secret], verbose: true });
    const body = event(1);
    await post(receiver, body, signed([secret], body));
    await post(receiver, body, signed([generateWebhookSecret()], body));
    expect(lines).toContain(body);
    expect(lines.join('\n')).not.toContain(secret.slice('whsec_'.length));
  });

  it('answers only POST, and refuses a secret it cannot use without quoting it', async () => {
    const { receiver } = await start({ secrets: [generateWebhookSecret()] });
    const response = await fetch(receiver.url);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    await expect(startWebhookReceiver({ secrets: [] })).rejects.toThrow(/at least one --secret/);
    await expect(startWebhookReceiver({ secrets: ['whsec_'] })).rejects.toThrow(/secret 1 is not a whsec_ secret/);
    await expect(startWebhookReceiver({ secrets: ['whsec_#!not-base64'] })).rejects.toThrow(/^[^#]*$/);
  });
});

describe('a bad endpoint on demand', () => {
  it('--fail-rate answers that share of verified deliveries with --status, Retry-After when asked; retries keep their id', async () => {
    const secret = generateWebhookSecret();
    const rolls = [0.1, 0.9, 0.29, 0.31];
    const { receiver, lines } = await start({
      secrets: [secret],
      failRate: 0.3,
      status: 503,
      retryAfter: 5,
      random: () => rolls.shift() ?? 1,
    });
    const body = event(1);
    const statuses: number[] = [];
    const retryAfter: (string | null)[] = [];
    for (const id of ['a', 'a', 'b', 'b']) {
      const response = await post(receiver, body, signed([secret], body, id));
      statuses.push(response.status);
      retryAfter.push(response.headers.get('retry-after'));
    }
    expect(statuses).toEqual([503, 204, 503, 204]);
    expect(retryAfter).toEqual(['5', null, '5', null]);
    expect(receiver.deliveries.map((d) => [d.id, d.attempt, d.status])).toEqual([
      ['a', 1, 503],
      ['a', 2, 204],
      ['b', 1, 503],
      ['b', 2, 204],
    ]);
    expect(lines[0]).toMatch(/ 503 {2}a .*attempt 1 .*\(played failure\)$/);
    // A bad signature is refused before any failure is played.
    expect((await post(receiver, body, {})).status).toBe(401);
  });

  it('--status alone fails every delivery (410 Gone asks the sender to disable the subscription)', async () => {
    const secret = generateWebhookSecret();
    const { receiver } = await start({ secrets: [secret], status: 410 });
    const body = event(1);
    for (const id of ['a', 'b', 'c']) expect((await post(receiver, body, signed([secret], body, id))).status).toBe(410);
  });

  it('--delay-ms answers late', async () => {
    const secret = generateWebhookSecret();
    const { receiver } = await start({ secrets: [secret], delayMs: 200 });
    const body = event(1);
    const started = performance.now();
    expect((await post(receiver, body, signed([secret], body))).status).toBe(204);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
  });

  it('a delivery acknowledged before and sent again is flagged as a duplicate with the same webhook-id', async () => {
    const secret = generateWebhookSecret();
    const { receiver, lines } = await start({ secrets: [secret] });
    const body = event(1);
    await post(receiver, body, signed([secret], body, 'dlv_9'));
    await post(receiver, body, signed([secret], body, 'dlv_9'));
    expect(receiver.deliveries.map((d) => [d.id, d.attempt, d.duplicate])).toEqual([
      ['dlv_9', 1, false],
      ['dlv_9', 2, true],
    ]);
    expect(lines[1]).toMatch(/attempt 2 .* duplicate$/);
  });

  it('bad option values are refused', async () => {
    const secrets = [generateWebhookSecret()];
    await expect(startWebhookReceiver({ secrets, failRate: 1.5 })).rejects.toThrow(/--fail-rate/);
    await expect(startWebhookReceiver({ secrets, status: 99 })).rejects.toThrow(/--status/);
    await expect(startWebhookReceiver({ secrets, delayMs: -1 })).rejects.toThrow(/--delay-ms/);
    await expect(startWebhookReceiver({ secrets, retryAfter: 1.5 })).rejects.toThrow(/--retry-after/);
  });
});

describe('command line', () => {
  it('reads every flag, --secret repeated', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    const args = [
      '--port',
      '4000',
      '--secret',
      a,
      '--secret',
      b,
      '--fail-rate',
      '0.3',
      '--status',
      '500',
      '--delay-ms',
      '200',
      '--retry-after',
      '5',
      '--verbose',
    ];
    expect(parseReceiverArgs(args, {})).toEqual({
      port: 4000,
      host: '127.0.0.1',
      secrets: [a, b],
      verbose: true,
      failRate: 0.3,
      status: 500,
      delayMs: 200,
      retryAfter: 5,
    });
  });

  it('takes secrets from WEBHOOK_SECRET when no --secret is given, and refuses numbers that are not', () => {
    const [a, b] = [generateWebhookSecret(), generateWebhookSecret()] as [string, string];
    expect(parseReceiverArgs([], { WEBHOOK_SECRET: ` ${a}  ${b} ` })).toMatchObject({ port: 4000, secrets: [a, b] });
    expect(() => parseReceiverArgs(['--fail-rate', 'lots'], {})).toThrow(/--fail-rate wants a number/);
    expect(() => parseReceiverArgs(['--port', '70000'], {})).toThrow(/--port/);
  });
});

describe('npm run webhook-receiver', () => {
  it('runs as a program: listens, prints a line per delivery and, on SIGINT, a summary; never the secret', async () => {
    const secret = generateWebhookSecret();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bin/webhook-receiver.ts', '--port', '0', '--status', '503', '--fail-rate', '0.5'],
      {
        cwd: path.join(import.meta.dirname, '../../..'),
        env: { ...process.env, WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await expect
        .poll(() => output, { timeout: 20_000, interval: 100 })
        .toMatch(/listening on (http:\S+) with 1 secret; answering 503 to 50% of deliveries/);
      const url = /listening on (http:\S+) /.exec(output)![1]!;
      const body = event(1);
      const response = await fetch(url, { method: 'POST', body, headers: signed([secret], body, 'dlv_cli') });
      expect([204, 503]).toContain(response.status);
      await expect.poll(() => output).toMatch(/ (204|503) {2}dlv_cli {2}deployment\.rolled_back {2}d1 {2}attempt 1 /);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(output).toMatch(/SIGINT; 1 requests, \d deliveries acknowledged, 0 duplicates, 0 refused, \d failures played/);
      expect(output).not.toContain(secret.slice('whsec_'.length));
    } finally {
      child.kill();
    }
  });
});
