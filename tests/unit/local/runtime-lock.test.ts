/** One owner per data folder: a second runtime is refused, a lock left by a dead process is not an obstacle. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimDataFolder, DataFolderBusyError, LOCK_FILE, readOwner } from '../../../local/runtime-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function dataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-lock-'));
  dirs.push(dir);
  return dir;
}

/** A pid that surely belongs to no running process: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

describe('claimDataFolder', () => {
  it('refuses a folder a live process owns, naming it and how to avoid it', () => {
    const dir = dataDir();
    // The parent of this test process stands in for another live runtime.
    writeFileSync(
      path.join(dir, LOCK_FILE),
      JSON.stringify({ pid: process.ppid, kind: 'local', startedAt: 'x', apiUrl: 'http://127.0.0.1:3000' }),
    );
    expect(readOwner(dir)).toMatchObject({ pid: process.ppid, kind: 'local' });
    let thrown: unknown;
    try {
      claimDataFolder(dir, 'invoke');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DataFolderBusyError);
    expect((thrown as Error).message).toMatch(
      /Another Switchyard runtime \(pid \d+, API http:\/\/127\.0\.0\.1:3000\) is running on .*--in-memory/,
    );
  });

  it('takes over a lock left by a process that is gone, records its endpoints, and removes it on release', () => {
    const dir = dataDir();
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), kind: 'local', startedAt: 'x' }));
    expect(readOwner(dir)).toBeUndefined();
    const lock = claimDataFolder(dir, 'local');
    lock.update({ awsEndpoint: 'http://127.0.0.1:4599' });
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
      kind: 'local',
      awsEndpoint: 'http://127.0.0.1:4599',
    });
    lock.release();
    expect(() => readFileSync(path.join(dir, LOCK_FILE))).toThrow();
  });
});
