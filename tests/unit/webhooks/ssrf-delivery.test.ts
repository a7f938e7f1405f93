/**
 * Delivering through the guard against real local sockets: the connection goes only to checked
 * addresses (DNS rebinding cannot move it), SNI stays the hostname, redirects are answers, and every
 * failure is typed.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import path from 'node:path';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  checkWebhookUrl,
  guardedPost,
  LOCAL_WEBHOOK_POLICY,
  pinnedDispatcher,
  pinnedLookup,
  WebhookDeliveryError,
  type CheckedAddress,
  type CheckedWebhookUrl,
  type ResolveHost,
} from '../../../shared/webhooks/ssrf.js';

const servers: Array<Server | TcpServer> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
});

interface Received {
  method?: string;
  url?: string;
  host?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** An HTTP server on `address` that records what it receives and answers with `handler`. */
async function receiver(
  address: string,
  port = 0,
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('ok'),
): Promise<{ port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, host: req.headers.host, headers: req.headers, body });
      handler(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(port, address, done));
  return { port: (server.address() as AddressInfo).port, received };
}

/** A resolver answering `answers[n]` on its n-th call and the last one after: a name that rebinds. */
function rebinding(...answers: string[][]): ResolveHost & { calls: number } {
  const resolve = Object.assign(
    async () => {
      const addresses = answers[Math.min(resolve.calls, answers.length - 1)] ?? [];
      resolve.calls += 1;
      return addresses.map((address): CheckedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
    { calls: 0 },
  );
  return resolve;
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected the delivery to fail');
    },
    (error: unknown) => {
      if (!(error instanceof WebhookDeliveryError)) throw error;
      return error;
    },
  );

describe('guardedPost', () => {
  it('POSTs the body and headers and answers status, headers, the first KiB and latency', async () => {
    const { port, received } = await receiver('127.0.0.1', 0, (_req, res) => {
      res.setHeader('x-receiver', 'yes');
      res.end('é'.repeat(600)); // 1200 bytes: the cut lands after 512 two-byte characters
    });
    const body = JSON.stringify({ specversion: '1.0', id: 'e1' });
    const response = await guardedPost(
      `http://hook.test:${port}/in?x=1`,
      body,
      { 'content-type': 'application/json', 'webhook-id': 'd1' },
      LOCAL_WEBHOOK_POLICY,
      { resolve: rebinding(['127.0.0.1']) },
    );
    expect(response.status).toBe(200);
    expect(response.headers['x-receiver']).toBe('yes');
    expect(response.bodyFirstKiB).toBe('é'.repeat(512));
    expect(response.latencyMs).toBeGreaterThanOrEqual(0);
    expect(received).toEqual([expect.objectContaining({ method: 'POST', url: '/in?x=1', host: `hook.test:${port}`, body })]);
    expect(received[0]?.headers['webhook-id']).toBe('d1');
  });

  it('connects to the address it checked, not the one the name rebinds to afterwards', async () => {
    const checkedServer = await receiver('127.0.0.1');
    const rebindTarget = await receiver('127.0.0.2', checkedServer.port);
    const resolve = rebinding(['127.0.0.1'], ['127.0.0.2']);
    await guardedPost(`http://hook.test:${checkedServer.port}/`, '{}', {}, LOCAL_WEBHOOK_POLICY, { resolve });
    expect(resolve.calls).toBe(1);
    expect(checkedServer.received).toHaveLength(1);
    expect(rebindTarget.received).toHaveLength(0);
  });

  it('checks DNS again at delivery time: a name now resolving to a refused address is not contacted', async () => {
    const error = await failureOf(
      guardedPost(
        'https://hook.example.com/',
        '{}',
        {},
        { allowHttp: false, allowLoopback: false },
        {
          resolve: rebinding(['93.184.215.14', '10.0.0.7']),
        },
      ),
    );
    expect(error.kind).toBe('refused');
    expect(error.message).toContain('resolves to 10.0.0.7, a private address (10.0.0.0/8)');
  });

  it('refuses a URL the policy refuses without connecting', async () => {
    for (const [url, policy] of [
      ['http://10.0.0.1/', LOCAL_WEBHOOK_POLICY],
      ['http://127.0.0.1/', { allowHttp: true, allowLoopback: false }],
      ['http://hook.example.com/', { allowHttp: false, allowLoopback: false }],
    ] as const) {
      expect((await failureOf(guardedPost(url, '{}', {}, policy))).kind).toBe('refused');
    }
  });

  it('reports a name that does not resolve as unresolved (worth retrying)', async () => {
    const resolve: ResolveHost = async () => {
      throw Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' });
    };
    const error = await failureOf(guardedPost('http://hook.test/', '{}', {}, LOCAL_WEBHOOK_POLICY, { resolve }));
    expect(error.kind).toBe('unresolved');
  });

  it('does not follow a redirect: the 302 is the answer', async () => {
    const { port, received } = await receiver('127.0.0.1', 0, (req, res) => {
      if (req.url === '/in') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.end('followed');
    });
    const response = await guardedPost(`http://hook.test:${port}/in`, '{}', {}, LOCAL_WEBHOOK_POLICY, {
      resolve: rebinding(['127.0.0.1']),
    });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/elsewhere');
    expect(received.map((r) => r.url)).toEqual(['/in']);
  });

  it('times out on a server that accepts and never answers', async () => {
    const { port } = await receiver('127.0.0.1', 0, () => undefined);
    const error = await failureOf(
      guardedPost(`http://hook.test:${port}/`, '{}', {}, LOCAL_WEBHOOK_POLICY, {
        resolve: rebinding(['127.0.0.1']),
        timeoutMs: 300,
      }),
    );
    expect(error.kind).toBe('timeout');
    expect(error.latencyMs).toBeGreaterThanOrEqual(250);
    expect(error.latencyMs).toBeLessThan(3_000);
  });

  it('times out on a server that sends headers and then stalls the body', async () => {
    const { port } = await receiver('127.0.0.1', 0, (_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const error = await failureOf(
      guardedPost(`http://hook.test:${port}/`, '{}', {}, LOCAL_WEBHOOK_POLICY, {
        resolve: rebinding(['127.0.0.1']),
        timeoutMs: 300,
      }),
    );
    expect(error.kind).toBe('timeout');
  });

  it('reports a closed port as connection-refused', async () => {
    const { port } = await receiver('127.0.0.1');
    const server = servers.pop() as Server;
    await new Promise<void>((done) => server.close(() => done()));
    const error = await failureOf(
      guardedPost(`http://hook.test:${port}/`, '{}', {}, LOCAL_WEBHOOK_POLICY, { resolve: rebinding(['127.0.0.1']) }),
    );
    expect(error.kind).toBe('connection-refused');
  });

  it('sends the hostname as TLS SNI while connecting to the pinned address', async () => {
    const hello: Buffer[] = [];
    const tcp = createTcpServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        hello.push(chunk);
        socket.destroy(); // no certificate to offer: the handshake fails, which is fine here
      });
    });
    servers.push(tcp);
    await new Promise<void>((done) => tcp.listen(0, '127.0.0.1', done));
    const { port } = tcp.address() as AddressInfo;
    const error = await failureOf(
      guardedPost(
        `https://hook.example.com:${port}/`,
        '{}',
        {},
        { allowHttp: false, allowLoopback: true },
        {
          resolve: rebinding(['127.0.0.1']),
          timeoutMs: 2_000,
        },
      ),
    );
    expect(['tls', 'network']).toContain(error.kind);
    const clientHello = Buffer.concat(hello);
    expect(clientHello[0]).toBe(0x16); // TLS handshake record
    expect(clientHello.includes(Buffer.from('hook.example.com'))).toBe(true);
  });
});

describe('guardedPost over TLS', () => {
  // A self-signed test-only certificate for hook.example.com (CA:TRUE so it can be its own trust anchor).
  const fixtures = path.resolve(import.meta.dirname, 'fixtures');
  const cert = readFileSync(path.join(fixtures, 'hook.example.com.crt'));
  const key = readFileSync(path.join(fixtures, 'hook.example.com.key'));

  async function tlsReceiver() {
    const hosts: Array<string | undefined> = [];
    const server = createTlsServer({ cert, key }, (req, res) => {
      hosts.push(req.headers.host);
      req.resume().on('end', () => res.end('secure'));
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    return { port: (server.address() as AddressInfo).port, hosts };
  }

  const policy = { allowHttp: false, allowLoopback: true };

  it('verifies the certificate against the hostname while connecting to the pinned address', async () => {
    const { port, hosts } = await tlsReceiver();
    const response = await guardedPost(`https://hook.example.com:${port}/`, '{}', {}, policy, {
      resolve: rebinding(['127.0.0.1']),
      ca: cert,
    });
    expect(response).toMatchObject({ status: 200, bodyFirstKiB: 'secure' });
    expect(hosts).toEqual([`hook.example.com:${port}`]);
  });

  it('fails as tls when the certificate is not for the hostname, or not trusted', async () => {
    const { port, hosts } = await tlsReceiver();
    const wrongName = await failureOf(
      guardedPost(`https://other.example.com:${port}/`, '{}', {}, policy, { resolve: rebinding(['127.0.0.1']), ca: cert }),
    );
    expect(wrongName.kind).toBe('tls');
    const untrusted = await failureOf(
      guardedPost(`https://hook.example.com:${port}/`, '{}', {}, policy, { resolve: rebinding(['127.0.0.1']) }),
    );
    expect(untrusted.kind).toBe('tls');
    expect(hosts).toEqual([]);
  });
});

describe('pinnedDispatcher', () => {
  it('keeps using the checked addresses for every request, never resolving again', async () => {
    const checkedServer = await receiver('127.0.0.1');
    await receiver('127.0.0.2', checkedServer.port);
    const resolve = rebinding(['127.0.0.1'], ['127.0.0.2']);
    const checked = await checkWebhookUrl(`http://hook.test:${checkedServer.port}/`, LOCAL_WEBHOOK_POLICY, resolve);
    const agent = pinnedDispatcher(checked);
    try {
      for (let i = 0; i < 3; i++) {
        const { body } = await request(checked.url, { dispatcher: agent, method: 'POST', body: `${i}` });
        await body.text();
      }
    } finally {
      await agent.close();
    }
    expect(resolve.calls).toBe(1);
    expect(checkedServer.received.map((r) => r.body)).toEqual(['0', '1', '2']);
  });

  it('refuses a connection whose peer is not a checked address', async () => {
    const { port, received } = await receiver('127.0.0.1');
    const mismatched: CheckedWebhookUrl = {
      url: new URL(`http://127.0.0.1:${port}/`),
      addresses: [{ address: '127.0.0.2', family: 4 }],
    };
    const agent = pinnedDispatcher(mismatched);
    try {
      await expect(request(mismatched.url, { dispatcher: agent, method: 'POST', body: '{}' })).rejects.toThrow(
        /reached 127\.0\.0\.1, which was not checked/,
      );
    } finally {
      await agent.destroy();
    }
    expect(received).toHaveLength(0);
  });
});

describe('pinnedLookup', () => {
  const checked: CheckedWebhookUrl = {
    url: new URL('https://hook.example.com/'),
    addresses: [
      { address: '93.184.215.14', family: 4 },
      { address: '2606:4700:4700::1111', family: 6 },
    ],
  };

  it('answers the checked addresses for the checked hostname, in either callback shape, by family', () => {
    const lookup = pinnedLookup(checked);
    const all = vi.fn();
    lookup('hook.example.com', { all: true }, all);
    expect(all).toHaveBeenCalledWith(null, checked.addresses);
    const one = vi.fn();
    lookup('hook.example.com', { family: 6 }, one);
    expect(one).toHaveBeenCalledWith(null, '2606:4700:4700::1111', 6);
  });

  it('answers ENOTFOUND rather than an empty list when no checked address has the family asked for', () => {
    const v4Only = pinnedLookup({ url: checked.url, addresses: [{ address: '93.184.215.14', family: 4 }] });
    for (const options of [{ family: 6, all: true }, { family: 6 }]) {
      const callback = vi.fn();
      v4Only('hook.example.com', options, callback);
      expect(callback).toHaveBeenCalledWith(expect.objectContaining({ code: 'ENOTFOUND' }), '', 0);
    }
  });

  it('resolves no other name', () => {
    const callback = vi.fn();
    pinnedLookup(checked)('metadata.internal', { all: true }, callback);
    expect(callback).toHaveBeenCalledWith(expect.objectContaining({ code: 'ENOTFOUND' }), '', 0);
  });
});
