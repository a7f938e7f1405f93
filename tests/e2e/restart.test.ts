/** `npm start` keeps data, secrets and bootstrap state on disk: a restart finds them, and Ctrl-C leaves no Java process behind. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receiverBody } from '../support/samples.js';
import { startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'switchyard-data-'));
const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-cdk-'));
const KEY = 'sy_restart_test_key_0123456789';
let runtime: RuntimeProcess | undefined;

afterAll(async () => {
  await runtime?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

function portAcceptsConnections(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe.skipIf(process.env.SWITCHYARD_BASE_URL)('local runtime on disk', () => {
  // Two cold starts (synth, bundling, a JVM) on a loaded 2-core machine: give it room.
  it('keeps data across a restart, reuses the unchanged assembly, and stops cleanly on SIGINT', async () => {
    runtime = await startRuntimeProcess({ dataDir, outdir, env: { SWITCHYARD_ADMIN_API_KEY: KEY } });
    expect(runtime.output()).toMatch(/ready in [\d.]+ s: synth [\d.]+ s/);
    const created = await fetch(`${runtime.url}/api/v1/receivers`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': KEY },
      body: JSON.stringify(receiverBody({ name: 'survives-restart' })),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    const firstDynamo = runtime.dynamoEndpoint;
    expect(await runtime.stop()).toBe(0);
    expect(await portAcceptsConnections(firstDynamo)).toBe(false);

    // No key in the environment this time: the one bootstrapped on the first start must still work.
    runtime = await startRuntimeProcess({ dataDir, outdir });
    // Nothing changed: no synth, no bundling.
    expect(runtime.output()).toMatch(/ready in [\d.]+ s: assembly reused/);
    const read = await fetch(`${runtime.url}/api/v1/receivers/${id}`, { headers: { 'X-API-Key': KEY } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id, name: 'survives-restart' });
  }, 180_000);
});
