/**
 * One owner per data folder. DynamoDB Local, the secrets file and the
 * custom-resource state must never be opened by two processes at once, so
 * whoever runs on a data folder (`npm start`, or `npm run invoke` when no
 * runtime is running) claims it with `runtime.json`, which also says where a
 * running runtime's endpoints are, so `invoke` can reuse them instead.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'runtime.json';

export interface RuntimeLockInfo {
  pid: number;
  /** `local` serves the API and its endpoints can be reused; `invoke` owns the folder for one invocation. */
  kind: 'local' | 'invoke';
  startedAt: string;
  awsEndpoint?: string;
  apiUrl?: string;
  dynamoEndpoint?: string;
}

export class DataFolderBusyError extends Error {
  override readonly name = 'DataFolderBusyError';
  constructor(
    readonly dataDir: string,
    readonly owner: RuntimeLockInfo,
  ) {
    super(
      owner.kind === 'local'
        ? `Another Switchyard runtime (pid ${owner.pid}, API ${owner.apiUrl ?? '?'}) is running on ${dataDir}. Stop it first, or use --data-dir or --in-memory.`
        : `\`switchyard invoke\` (pid ${owner.pid}) is using ${dataDir}. Wait for it, or use --data-dir or --in-memory.`,
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live owner of a data folder, if any (a lock left by a crashed process is ignored). */
export function readOwner(dataDir: string): RuntimeLockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')) as RuntimeLockInfo;
    return Number.isInteger(info.pid) && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

export interface RuntimeLock {
  /** Adds the endpoints once they are known. */
  update(fields: Partial<RuntimeLockInfo>): void;
  release(): void;
}

/** Claims the folder or throws `DataFolderBusyError` naming the owner. */
export function claimDataFolder(dataDir: string, kind: RuntimeLockInfo['kind']): RuntimeLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  let info: RuntimeLockInfo = { pid: process.pid, kind, startedAt: new Date().toISOString() };
  const write = (flag: 'wx' | 'w') => {
    const fd = openSync(file, flag);
    try {
      writeSync(fd, JSON.stringify(info, null, 2));
    } finally {
      closeSync(fd);
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      write('wx');
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const owner = readOwner(dataDir);
      if (owner) throw new DataFolderBusyError(dataDir, owner);
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      const current = JSON.parse(readFileSync(file, 'utf8')) as RuntimeLockInfo;
      if (current.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return {
    update(fields) {
      info = { ...info, ...fields };
      write('w');
    },
    release,
  };
}
