/**
 * Checkpoints that describe themselves: learner tensors, optimizer slots, RNG state, the replay
 * buffer and the loop position, written atomically into the run folder.
 *
 * | file                       | content                                                      |
 * |----------------------------|--------------------------------------------------------------|
 * | checkpoint/state.json      | episode reached, learner extras, tensor index (name, shape)  |
 * | checkpoint/tensors.bin     | every tensor's float32 data, in index order                  |
 * | checkpoint/replay.bin      | stored episodes (obs, actions, rewards, hasTask, hidden)     |
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LearnerState } from './learner.ts';
import { InputError } from '../core/errors.ts';
import { newEpisodeRecord, type EpisodeRecord } from './replay.ts';

export interface CheckpointMeta {
  /** episodes completed (the next one to run has this index) */
  readonly episode: number;
  readonly extra: Record<string, unknown>;
  readonly tensors: { name: string; shape: number[]; length: number }[];
  readonly replay: { episodes: number; slots: number; agents: number; obsSize: number; hiddenSize?: number; next: number };
  /** the loop's own state (e.g. the current exploration schedule) */
  readonly loop: Record<string, unknown>;
}

export interface ReplaySnapshot {
  readonly episodes: readonly EpisodeRecord[];
  readonly next: number;
  readonly agents: number;
  readonly obsSize: number;
  readonly hiddenSize: number;
}

function concat(chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

export function writeCheckpoint(runDir: string, episode: number, state: LearnerState, replay: ReplaySnapshot, loop: Record<string, unknown>): void {
  const tmp = join(runDir, 'checkpoint.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const names = Object.keys(state.tensors).sort();
  const tensorChunks = names.map((n) => {
    const data = (state.tensors[n] as { data: Float32Array }).data;
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  });
  writeFileSync(join(tmp, 'tensors.bin'), concat(tensorChunks));
  const replayChunks: Uint8Array[] = [];
  for (const e of replay.episodes) for (const a of [e.obs, e.actions, e.rewards, e.hasTask, e.hidden]) replayChunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  writeFileSync(join(tmp, 'replay.bin'), concat(replayChunks));
  const meta: CheckpointMeta = {
    episode,
    extra: state.extra,
    tensors: names.map((n) => {
      const t = state.tensors[n] as { shape: number[]; data: Float32Array };
      return { name: n, shape: t.shape, length: t.data.length };
    }),
    replay: { episodes: replay.episodes.length, slots: replay.episodes[0]?.slots ?? 0, agents: replay.agents, obsSize: replay.obsSize, hiddenSize: replay.hiddenSize, next: replay.next },
    loop,
  };
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(meta));
  const final = join(runDir, 'checkpoint');
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, 'checkpoint', 'state.json'));
}

export function readCheckpoint(runDir: string): { meta: CheckpointMeta; state: LearnerState; replay: ReplaySnapshot } {
  const dir = join(runDir, 'checkpoint');
  const meta = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointMeta;
  const bin = readFileSync(join(dir, 'tensors.bin'));
  const tensors: LearnerState['tensors'] = {};
  let offset = 0;
  for (const t of meta.tensors) {
    const bytes = t.length * 4;
    if (offset + bytes > bin.byteLength) throw new InputError(`checkpoint ${dir}: tensors.bin is truncated at ${t.name}`);
    const data = new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + bytes));
    tensors[t.name] = { shape: t.shape, data };
    offset += bytes;
  }
  const rbin = readFileSync(join(dir, 'replay.bin'));
  const { slots, agents, obsSize } = meta.replay;
  const hiddenSize = meta.replay.hiddenSize ?? 0; // checkpoints from before recurrent actors have none
  const episodes: EpisodeRecord[] = [];
  let r = rbin.byteOffset;
  const take = <T extends Float32Array | Int32Array | Uint8Array>(target: T): T => {
    const bytes = target.byteLength;
    new Uint8Array(target.buffer).set(new Uint8Array(rbin.buffer, r, bytes));
    r += bytes;
    return target;
  };
  for (let k = 0; k < meta.replay.episodes; k++) {
    const e = newEpisodeRecord(slots, agents, obsSize, hiddenSize);
    const episodeBytes = [e.obs, e.actions, e.rewards, e.hasTask, e.hidden].reduce((n, a) => n + a.byteLength, 0);
    if (r - rbin.byteOffset + episodeBytes > rbin.byteLength) throw new InputError(`checkpoint ${dir}: replay.bin is truncated at episode ${k}`);
    take(e.obs);
    take(e.actions);
    take(e.rewards);
    take(e.hasTask);
    take(e.hidden);
    episodes.push(e);
  }
  return { meta, state: { tensors, extra: meta.extra }, replay: { episodes, next: meta.replay.next, agents, obsSize, hiddenSize } };
}
