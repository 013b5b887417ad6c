/**
 * Over-the-air model updates for a gateway: follows its retained desired version
 * (gmel/v1/ied/{i}/model), fetches that version's manifest, signature and signed release statement
 * from the registry, verifies them (trusted deploy key) before requesting any model file, downloads
 * this gateway's models (sizes capped, sha256 checked) into a temporary folder, moves them into place,
 * loads the new sessions beside the current ones, swaps between two decisions (gateway.swapModel), and
 * reports the version it runs — or the one it refused and why — on gmel/v1/ied/{i}/model/reported
 * (retained). A refused version never replaces the running one; a reason never quotes a download.
 *
 * A gateway serving several IEDs runs one version for all of them: the newest desired message (by its
 * `at` stamp) for any of them decides (rollouts address gateways). A version superseded while it
 * waits is skipped; a refused version is tried again when it is desired again (a registry that was
 * down a moment ago); downloads have a timeout. What is refused before any download (ota-policy.ts):
 * a desire stamped more than MAX_DESIRE_CLOCK_SKEW_MS ahead of this clock, one naming another registry
 * than the pinned `registry`, one older than the wish behind the installed version, and (after the
 * signature) a set whose signed release sequence is below the installed one's without a signed rollback
 * instruction. Caps: ota-download.ts.
 */
import { mkdirSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Scenario } from '../core/scenario/schema.ts';
import { InputError } from '../core/errors.ts';
import { checkManifestSignature, verifyRelease, MODEL_RELEASE, MODEL_SIGNATURE } from '../core/model-signature.ts';
import { decode, encode } from '../protocol/codec.ts';
import { topics } from '../protocol/topics.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import type { DesiredModel } from '../protocol/messages.ts';
import type { IedGatewayRuntime } from './gateway.ts';
import { loadModelHandle, releaseModel } from './model-loader.ts';
import type { Engine } from './policy.ts';
import { downloadFiles, fetchSigned, parseManifest, planFiles, type Source } from './ota-download.ts';
import { readInstalled, registryFor, rollbackRefusal, skewRefusal, writeInstalled, type Installed } from './ota-policy.ts';

export { MAX_DESIRE_CLOCK_SKEW_MS } from './ota-policy.ts';
export { MAX_MODEL_FILE_BYTES, MAX_MODEL_FILES, MAX_OTA_DOWNLOAD_BYTES } from './ota-download.ts';

export interface UpdaterOptions {
  readonly gateway: IedGatewayRuntime;
  readonly mqtt: MqttClient;
  readonly iedIds: readonly number[];
  readonly scenario: Scenario;
  readonly engine: Engine;
  /** PEM of the deploy key the models must be signed with */
  readonly trustedPublicKey: string;
  /** where downloaded versions (and ota-state.json, the installed release) are kept */
  readonly workDir: string;
  readonly logger: Logger;
  readonly fetchImpl?: typeof fetch;
  /** per-file download timeout, ms (default 60 s) */
  readonly downloadTimeoutMs?: number;
  /**
   * The registry this gateway follows (base URL), set by the gateway's operator: a desire naming any
   * other is refused, and downloads only ever go here. Unset (legacy, logged as a warning): the registry
   * each desire names, if it is a plain http(s) URL.
   */
  readonly registry?: string;
  /**
   * Compatibility for unsigned rollbacks (deploy/rollout.ts desires the old version again): for this
   * long after an over-the-air install, an unsigned desire may go back to the version run just before
   * it. Default 0: going to a lower release sequence needs a signed rollback instruction.
   */
  readonly unsignedRollbackWindowMs?: number;
  /** the gateway's clock, ms since the epoch (default Date.now) */
  readonly now?: () => number;
}

/** The temporary folder under workDir that a download lands in, before it is moved into place. */
const DOWNLOAD_DIR = '.download';

export class ModelUpdater {
  private busy: Promise<void> = Promise.resolve();
  private target = '';
  private targetAt = -Infinity;
  private installed: Installed | undefined;
  private readonly now: () => number;

  private constructor(private readonly o: UpdaterOptions) {
    this.now = o.now ?? Date.now;
  }

  static async create(o: UpdaterOptions): Promise<ModelUpdater> {
    const u = new ModelUpdater(o);
    try {
      u.installed = readInstalled(o.workDir);
    } catch (err) {
      o.logger.error({ err: (err as Error).message }, 'over-the-air state unreadable: no installed release known');
    }
    if (o.registry === undefined) o.logger.warn('over-the-air updates follow any registry a desired-model message names: pin one (registry option)');
    else registryFor(o.registry, o.registry); // a bad pin fails at start, not at the first update
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
    const skew = skewRefusal(d, this.now());
    if (skew) return this.refuseNow(d, skew); // never becomes the newest wish
    if (d.at < this.targetAt) return; // an older wish (e.g. another IED's retained message): the newest decides
    if (this.installed && d.at < this.installed.at) {
      this.o.logger.warn({ version: d.version, at: d.at, installed: this.installed.version }, 'desired model older than the installed one\'s wish: ignored');
      return;
    }
    if (d.version === this.target) return;
    let base: string;
    try {
      base = registryFor(this.o.registry, d.registry);
    } catch (err) {
      return this.refuseNow(d, (err as Error).message);
    }
    this.target = d.version;
    this.targetAt = d.at;
    this.queue(() => this.apply(d, base));
  }

  private queue(step: () => Promise<void>): void {
    this.busy = this.busy
      .then(step)
      .catch((err: unknown) => this.o.logger.error({ err: (err as Error)?.message ?? String(err) }, 'model update failed (report not published)'));
  }

  /** Refused before anything is fetched: logged, counted and reported; the wish in force stays. */
  private refuseNow(d: DesiredModel, why: string): void {
    const reason = why.slice(0, 500);
    this.o.gateway.metrics.modelLoads.inc({ result: 'refused' });
    this.o.logger.error({ version: d.version, reason }, 'desired model refused: keeping the running one');
    this.queue(() => this.report('refused', { version: d.version, reason }));
  }

  private async apply(d: DesiredModel, base: string): Promise<void> {
    if (d.version !== this.target) return; // superseded while it waited
    if (d.version === this.o.gateway.modelVersion) return this.report('running');
    const label = `${d.modelSet}/${d.version}`;
    const dir = join(this.o.workDir, d.modelSet, d.version);
    const download = join(this.o.workDir, DOWNLOAD_DIR);
    try {
      rmSync(download, { recursive: true, force: true });
      const src: Source = { get: this.o.fetchImpl ?? fetch, base, modelSet: d.modelSet, version: d.version, timeoutMs: this.o.downloadTimeoutMs ?? 60_000 };
      // signature, version and release sequence first: no model file of an unverified set is requested
      const meta = await fetchSigned(src);
      checkManifestSignature(meta.manifestBytes, meta.signature, this.o.trustedPublicKey, label);
      const manifest = parseManifest(meta.manifestBytes, label);
      if (manifest.version !== d.version) throw new InputError(`the manifest says version ${String(manifest.version).slice(0, 128)}, ${d.version} was asked for`);
      const sequence = verifyRelease(meta.release, meta.manifestBytes, d.version, this.o.trustedPublicKey, label)?.sequence ?? 0;
      const refusal = rollbackRefusal({ installed: this.installed, sequence, d, publicKeyPem: this.o.trustedPublicKey, now: this.now(), unsignedRollbackWindowMs: this.o.unsignedRollbackWindowMs ?? 0 });
      if (refusal) throw new InputError(refusal);
      const plan = planFiles(manifest, this.o.iedIds, label);
      mkdirSync(download, { recursive: true });
      writeFileSync(join(download, 'manifest.json'), meta.manifestBytes);
      writeFileSync(join(download, MODEL_SIGNATURE), meta.signature ?? '');
      if (meta.release) writeFileSync(join(download, MODEL_RELEASE), meta.release);
      await downloadFiles(src, plan, download);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dirname(dir), { recursive: true });
      renameSync(download, dir);
      const next = await loadModelHandle(dir, this.o.scenario, this.o.iedIds, this.o.engine); // checksums again, widths
      if (next.version !== d.version) {
        await releaseModel(next);
        throw new InputError(`the manifest says version ${next.version}, ${d.version} was asked for`);
      }
      const previous = this.o.gateway.modelVersion;
      await this.o.gateway.swapModel(next);
      this.installed = { version: d.version, sequence, at: d.at, installedAt: this.now(), previous };
      writeInstalled(this.o.workDir, this.installed);
      this.o.logger.info({ version: d.version, sequence }, 'model updated over the air');
      await this.report('running');
    } catch (err) {
      const reason = (err as Error).message.slice(0, 500);
      this.o.gateway.metrics.modelLoads.inc({ result: 'refused' });
      this.o.logger.error({ version: d.version, reason }, 'desired model refused: keeping the running one');
      if (this.o.gateway.modelVersion !== d.version) rmSync(dir, { recursive: true, force: true });
      rmSync(download, { recursive: true, force: true });
      if (this.target === d.version) this.target = ''; // desired again later: try again
      await this.report('refused', { version: d.version, reason });
    }
  }

  private async report(state: 'running' | 'refused', refused?: { version: string; reason: string }): Promise<void> {
    for (const i of this.o.iedIds) {
      const msg = encode('reportedModel', { v: 1, iedId: i, version: this.o.gateway.modelVersion, state, ...(refused ? { refused } : {}), at: Date.now() });
      await this.o.mqtt.publishAsync(topics.reportedModel(i), msg, publishOptions('reportedModel'));
    }
  }
}
