/**
 * Over-the-air model updates for a gateway: follows its retained desired version
 * (gmel/v1/ied/{i}/model), downloads that version's manifest, signature and this gateway's models
 * from the registry, verifies the Ed25519 signature (trusted deploy key) and every checksum, loads
 * the new sessions beside the current ones, swaps between two decisions (gateway.swapModel), and
 * reports the version it runs — or the one it refused and why — on gmel/v1/ied/{i}/model/reported
 * (retained). A refused version never replaces the running one.
 *
 * A gateway serving several IEDs runs one version for all of them: the newest desired message (by its
 * `at` stamp) for any of them decides (rollouts address gateways). A version superseded while it
 * waits is skipped; a refused version is tried again when it is desired again (a registry that was
 * down a moment ago); downloads have a timeout and land in a temporary folder first.
 */
import { mkdirSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Scenario } from '../core/scenario/schema.ts';
import { InputError } from '../core/errors.ts';
import { verifyModelSetSignature, MODEL_SIGNATURE } from '../core/model-signature.ts';
import { modelFileName, readManifest } from '../core/model-set.ts';
import { decode, encode } from '../protocol/codec.ts';
import { topics } from '../protocol/topics.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import type { DesiredModel } from '../protocol/messages.ts';
import type { IedGatewayRuntime } from './gateway.ts';
import { loadModelHandle, releaseModel } from './model-loader.ts';
import type { Engine } from './policy.ts';

export interface UpdaterOptions {
  readonly gateway: IedGatewayRuntime;
  readonly mqtt: MqttClient;
  readonly iedIds: readonly number[];
  readonly scenario: Scenario;
  readonly engine: Engine;
  /** PEM of the deploy key the models must be signed with */
  readonly trustedPublicKey: string;
  /** where downloaded versions are kept */
  readonly workDir: string;
  readonly logger: Logger;
  readonly fetchImpl?: typeof fetch;
  /** per-file download timeout, ms (default 60 s) */
  readonly downloadTimeoutMs?: number;
}

export class ModelUpdater {
  private busy: Promise<void> = Promise.resolve();
  private target = '';
  private targetAt = -Infinity;

  private constructor(private readonly o: UpdaterOptions) {}

  static async create(o: UpdaterOptions): Promise<ModelUpdater> {
    const u = new ModelUpdater(o);
    o.mqtt.on('message', (topic, payload) => {
      const d = decode(topic, payload);
      if (d.ok && d.kind === 'desiredModel' && o.iedIds.includes(d.message.iedId)) u.desired(d.message);
    });
    await o.mqtt.subscribeAsync(o.iedIds.map((i) => topics.desiredModel(i)), { qos: 1 });
    await u.report('running');
    return u;
  }

  /** Resolves when the last desired version has been handled. */
  settled(): Promise<void> {
    return this.busy;
  }

  private desired(d: DesiredModel): void {
    if (d.at < this.targetAt) return; // an older wish (e.g. another IED's retained message): the newest decides
    if (d.version === this.target) return;
    this.target = d.version;
    this.targetAt = d.at;
    this.busy = this.busy
      .then(() => this.apply(d))
      .catch((err: unknown) => this.o.logger.error({ err: (err as Error)?.message ?? String(err) }, 'model update failed (report not published)'));
  }

  private async apply(d: DesiredModel): Promise<void> {
    if (d.version !== this.target) return; // superseded while it waited
    if (d.version === this.o.gateway.modelVersion) return this.report('running');
    const dir = join(this.o.workDir, d.modelSet, d.version);
    const partial = `${dir}.partial`;
    try {
      rmSync(partial, { recursive: true, force: true });
      await this.download(d, partial);
      verifyModelSetSignature(partial, this.o.trustedPublicKey);
      rmSync(dir, { recursive: true, force: true });
      renameSync(partial, dir);
      const next = await loadModelHandle(dir, this.o.scenario, this.o.iedIds, this.o.engine); // checksums, widths
      if (next.version !== d.version) {
        await releaseModel(next);
        throw new InputError(`the manifest says version ${next.version}, ${d.version} was asked for`);
      }
      await this.o.gateway.swapModel(next);
      this.o.logger.info({ version: d.version }, 'model updated over the air');
      await this.report('running');
    } catch (err) {
      const reason = (err as Error).message.slice(0, 500);
      this.o.gateway.metrics.modelLoads.inc({ result: 'refused' });
      this.o.logger.error({ version: d.version, reason }, 'desired model refused: keeping the running one');
      rmSync(dir, { recursive: true, force: true });
      rmSync(partial, { recursive: true, force: true });
      if (this.target === d.version) this.target = ''; // desired again later: try again
      await this.report('refused', { version: d.version, reason });
    }
  }

  private async download(d: DesiredModel, dir: string): Promise<void> {
    const get = this.o.fetchImpl ?? fetch;
    mkdirSync(dir, { recursive: true });
    const fetchFile = async (file: string, optional = false) => {
      const res = await get(`${d.registry.replace(/\/$/, '')}/models/${d.modelSet}/${d.version}/${file}`, { signal: AbortSignal.timeout(this.o.downloadTimeoutMs ?? 60_000) });
      if (optional && res.status === 404) return; // reported as "unsigned" by the verification
      if (!res.ok) throw new InputError(`registry: ${file} of ${d.modelSet}/${d.version}: HTTP ${res.status}`);
      writeFileSync(join(dir, file), Buffer.from(await res.arrayBuffer()));
    };
    await fetchFile('manifest.json');
    await fetchFile(MODEL_SIGNATURE, true);
    const manifest = readManifest(dir);
    const files = new Set(this.o.iedIds.map((i) => modelFileName(i % manifest.ieds)));
    for (const f of files) await fetchFile(f);
  }

  private async report(state: 'running' | 'refused', refused?: { version: string; reason: string }): Promise<void> {
    for (const i of this.o.iedIds) {
      const msg = encode('reportedModel', { v: 1, iedId: i, version: this.o.gateway.modelVersion, state, ...(refused ? { refused } : {}), at: Date.now() });
      await this.o.mqtt.publishAsync(topics.reportedModel(i), msg, publishOptions('reportedModel'));
    }
  }
}
