/**
 * Where a stream poller remembers how far it got in each shard: a small JSON
 * file per mapping in the data folder, so that a restart with data on disk
 * neither replays what the function already processed nor skips what was
 * written while the runtime was down; in memory without a data folder (the
 * stream itself dies with an in-memory DynamoDB Local).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface ShardCheckpoint {
  /** The last record the mapping is done with (delivered, filtered out or discarded). */
  sequenceNumber?: string;
  /** A closed shard read to its end: its children come next. */
  finished?: boolean;
}

/** What the positions are relative to: another stream, or another starting position, starts the mapping afresh. */
export interface CheckpointScope {
  /** A table re-created in the data folder gets a new stream. */
  streamArn: string;
  /** A new StartingPosition replaces the mapping on AWS (a new UUID); here the UUID stays, so the positions are dropped instead. */
  startingPosition: string;
}

export interface StreamCheckpoint extends CheckpointScope {
  /**
   * The starting position has been applied to the shards that existed when the
   * mapping first started; any shard not listed since then is newer and is read
   * from its start.
   */
  initialized: boolean;
  shards: Record<string, ShardCheckpoint>;
}

export class CheckpointStore {
  private state: StreamCheckpoint;

  /** `file` undefined = in memory. */
  constructor(
    private readonly file: string | undefined,
    scope: CheckpointScope,
  ) {
    const saved = file ? readCheckpoint(file) : undefined;
    const same = saved?.streamArn === scope.streamArn && saved.startingPosition === scope.startingPosition;
    this.state = same ? saved : { ...scope, initialized: false, shards: {} };
  }

  get initialized(): boolean {
    return this.state.initialized;
  }

  shard(shardId: string): ShardCheckpoint | undefined {
    return this.state.shards[shardId];
  }

  markInitialized(): void {
    this.state.initialized = true;
    this.save();
  }

  advance(shardId: string, sequenceNumber: string): void {
    this.state.shards[shardId] = { ...this.state.shards[shardId], sequenceNumber };
    this.save();
  }

  finish(shardId: string): void {
    this.state.shards[shardId] = { ...this.state.shards[shardId], finished: true };
    this.save();
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    // Write then rename: a crash mid-write leaves the previous checkpoint, never half a file.
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.state));
    renameSync(temporary, this.file);
  }
}

function readCheckpoint(file: string): StreamCheckpoint | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<StreamCheckpoint>;
    if (typeof parsed.streamArn !== 'string' || typeof parsed.shards !== 'object' || parsed.shards === null) return undefined;
    return {
      streamArn: parsed.streamArn,
      startingPosition: String(parsed.startingPosition),
      initialized: parsed.initialized === true,
      shards: parsed.shards,
    };
  } catch {
    return undefined;
  }
}

/** The checkpoint file of a mapping in a data folder. */
export function checkpointFile(dataDir: string, mappingUuid: string): string {
  return path.join(dataDir, 'event-source-mappings', `${mappingUuid}.json`);
}
