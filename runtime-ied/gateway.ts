/**
 * The gateway runtime: serves one IED (a real gateway) or many (to emulate a plant) with their ONNX
 * actors. The queues are the simulator's own engine (sim/ World) clocked in real time: the local
 * GPU is eq. (1) (an emulated GPU at the configured rate) and the uplink is the OFDMA stage, shared
 * among the IEDs this process serves; edge servers are remote (runtime-edge).
 *
 * | handler      | on                               | does                                                        |
 * |--------------|----------------------------------|-------------------------------------------------------------|
 * | onTask       | gmel/v1/ied/{i}/task             | admit (admission.ts), dedupe, observe, infer, publish the    |
 * |              |                                  | decision, queue locally or on the uplink                    |
 * | onEdgeState  | gmel/v1/edge/{m}/state (retained)| the observation's edge load and own backlog at m            |
 * | onSlotEnd(k) | end of slot k                    | uplink stage; finished uploads → gmel/v1/edge/{m}/offload;  |
 * |              |                                  | local/uplink outcomes → gmel/v1/ied/{i}/result              |
 * | onEdgeResult | gmel/v1/ied/{i}/edge-result/{m}  | edge server m resolved one of our offloaded tasks (checked  |
 * |              |                                  | against its offload record): publish it as its result, once |
 * | onBand       | gmel/v1/band/{g}                 | a gateway serving part of the plant: the other gateways'    |
 * |              |                                  | senders per server join ours in the uplink stage (band.ts)  |
 *
 * The gateway owns every accepted task's one outcome (gmel/v1/ied/{i}/result). Watchdog: an offloaded
 * task whose edge result has not come back OFFLOAD_GRACE_MS after its deadline (the offload or its
 * result was lost, e.g. in a broker that died holding it) is reported dropped at the edge; an edge
 * result arriving after that is refused. So every accepted task reaches exactly one outcome.
 *
 * All world mutations (decisions, slot ends, model swaps) run one after another on a promise chain,
 * so an inference never interleaves with a slot's stages. Tasks accepted while a decision job waits
 * join it (enqueueDecision): under load one job decides a burst and its decisions leave in one write.
 * If inference fails, the task runs locally: an accepted task is never lost. Refusals (admission.ts, docs/security.md) are counted and logged.
 *
 * About 480 lines, over the usual 300: the handlers in the table above, crash recovery and the
 * gateway's life cycle (create, swap, close) share one task-ownership invariant (every accepted task,
 * one outcome) and read best together.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Scenario } from '../core/scenario/schema.ts';
import { encodeObservation, OBS_ENCODER_VERSION, type ObservationScales } from '../core/observation.ts';
import { actionName } from '../core/actions.ts';
import { SlotTicker, slotAt, type Clock } from '../protocol/clock.ts';
import { RecentIds } from '../protocol/recent-ids.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import { Outbox } from '../protocol/outbox.ts';
import { Refusals, Registry } from '../protocol/observability.ts';
import { encode } from '../protocol/codec.ts';
import { MAX_CLOCK_SKEW_MS } from '../protocol/refusals.ts';
import { listen } from '../protocol/inbox.ts';
import { subscriptions, topics } from '../protocol/topics.ts';
import type { BandReport, EdgeState, MessageOf, TaskAnnouncement } from '../protocol/messages.ts';
import type { StageName } from '../sim/task-pool.ts';
import { LiveWorld, type Upload } from '../sim/live-world.ts';
import type { ActorSession } from './policy.ts';
import type { LocalExecutor } from './executor.ts';
import { RecurrentStates } from './recurrent-state.ts';
import { gatewayMetrics, type GatewayMetrics } from './metrics.ts';
import { admitTask, OffloadLedger } from './admission.ts';
import type { Recovered, TaskJournal } from './journal.ts';
import { BandPeers } from './band.ts';

/** At most this many tasks per decision job: under a backlog, the first decision of a job waits for at most this many inferences. */
const MAX_DECISION_BATCH = 64;

/** An actor's choice for one task, before it takes effect. */
interface Choice {
  readonly action: number;
  readonly micros: number;
  readonly fallback?: 'inference-error' | 'invalid-action';
}

/** How long after its deadline an offloaded task may still get its edge result before the watchdog reports it. */
export const OFFLOAD_GRACE_MS = 3000;

export interface ModelHandle {
  readonly version: string;
  /** one session per served IED */
  readonly sessions: ReadonlyMap<number, ActorSession>;
  /** the observation scales the model was trained with (its manifest's): observations are encoded with these */
  readonly scales: ObservationScales;
}

export interface GatewayOptions {
  readonly scenario: Scenario;
  /** IEDs this process serves (0-based ids) */
  readonly iedIds: readonly number[];
  readonly model: ModelHandle;
  readonly mqtt: MqttClient;
  readonly clock: Clock;
  readonly epochMs: number;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** run local tasks for real (default: the emulated GPU of eq. 1) */
  readonly executor?: LocalExecutor;
  /** crash safety (journal.ts): every accepted task journaled, and what a previous process left */
  readonly journal?: { readonly journal: TaskJournal; readonly recovered: Recovered };
}

export class IedGatewayRuntime {
  readonly world: LiveWorld<TaskAnnouncement>;
  readonly metrics: GatewayMetrics;
  readonly registry: Registry;
  private model: ModelHandle;
  private readonly served: Set<number>;
  private readonly slotMs: number;
  private readonly ticker: SlotTicker;
  private readonly seen = new RecentIds();
  /** offloaded tasks awaiting their edge result, and the server each went to */
  private readonly offloaded = new OffloadLedger();
  private readonly refusals: Refusals;
  private readonly obs: Float32Array;
  /** recurrent actors' states h_a (GRU models) */
  private readonly hidden: RecurrentStates;
  private chain: Promise<void> = Promise.resolve();
  /** the decision job at the chain's tail, which tasks accepted now join (enqueueDecision) */
  private openBatch: { readonly tasks: TaskAnnouncement[]; readonly done: Promise<void> } | null = null;
  /** offloads and results leave in small batches so a slot's burst never holds decisions back */
  private readonly outbox: Outbox;
  private closed = false;
  /** closing: accepted tasks get up to the drain time to reach their outcomes (new ones are served too) */
  private draining = false;
  /** local tasks with a real executor, not yet reported */
  private executing = 0;
  /** journaled tasks left open at close for the next process of this gateway */
  private leftToNext = 0;
  /** the other gateways on the band, when this one serves part of the plant (band.ts) */
  private readonly band: BandPeers | undefined;

  private constructor(private readonly o: GatewayOptions) {
    this.served = new Set(o.iedIds);
    for (const i of o.iedIds) if (!(i >= 0 && i < o.scenario.ieds)) throw new RangeError(`IED ${i} is not in 0..${o.scenario.ieds - 1}`);
    for (const i of o.iedIds) if (!o.model.sessions.has(i)) throw new Error(`no model for IED ${i}`);
    this.model = o.model;
    this.slotMs = o.scenario.slotSeconds * 1000;
    this.registry = o.registry ?? new Registry();
    this.metrics = gatewayMetrics(this.registry);
    this.metrics.modelInfo.set({ version: o.model.version, encoder: OBS_ENCODER_VERSION }, 1);
    this.refusals = new Refusals(this.metrics, o.logger);
    this.ticker = new SlotTicker(o.clock, o.epochMs, this.slotMs, (k) => this.enqueue(() => this.onSlotEnd(k)), (err, k) => o.logger.error({ err: (err as Error)?.message ?? String(err), slot: k }, 'slot handler failed'));
    this.world = LiveWorld.create<TaskAnnouncement>(o.scenario, this.ticker.currentSlot, {
      uploaded: (msg, upload) => this.onUploaded(msg, upload),
      outcome: (msg, completed, stage, latency) => this.publishResult(msg, completed, stage, latency),
    });
    this.obs = new Float32Array(this.world.obsSize);
    if (this.served.size > 0 && this.served.size < o.scenario.ieds) this.band = new BandPeers(o.scenario.edgeServers, o.scenario.ieds, this.served, Math.ceil(MAX_CLOCK_SKEW_MS / this.slotMs));
    this.hidden = new RecurrentStates(o.scenario.episodeSlots);
    const journal = o.journal?.journal;
    this.outbox = new Outbox(o.mqtt, o.logger, undefined, journal ? () => journal.flush() : undefined); // the journal's records before the messages that need them
  }

  static async create(o: GatewayOptions): Promise<IedGatewayRuntime> {
    const rt = new IedGatewayRuntime(o);
    if (o.journal) rt.recover(o.journal.recovered); // before listening: a redelivered task is known
    const edges = Array.from({ length: o.scenario.edgeServers }, (_, m) => topics.edgeState(m + 1));
    await listen({
      mqtt: o.mqtt, metrics: rt.metrics, logger: o.logger, refusals: rt.refusals,
      subscriptions: [...o.iedIds.map((i) => topics.task(i)), ...o.iedIds.map((i) => topics.edgeResultsOf(i)), ...edges, ...(rt.band ? [subscriptions.allBands] : [])],
      dispatch: (d) => {
        if (d.kind === 'task') void rt.onTask(d.message);
        else if (d.kind === 'edgeState') rt.onEdgeState(d.message);
        else if (d.kind === 'edgeResult') rt.onEdgeResult(d.message, d.topicServer as number); // the codec parsed it from the topic
        else if (d.kind === 'band') rt.onBand(d.message);
      },
    });
    rt.ticker.start();
    return rt;
  }

  get modelVersion(): string {
    return this.model.version;
  }

  /** the IEDs this gateway serves, ascending */
  get servedIeds(): readonly number[] {
    return [...this.served].sort((a, b) => a - b);
  }

  /** the model in use (after any swap) */
  get currentModel(): ModelHandle {
    return this.model;
  }

  private enqueue(job: () => void | Promise<void>): Promise<void> {
    this.openBatch = null; // tasks accepted after this job are decided after it
    const next = this.chain.then(job).catch((err: unknown) => this.o.logger.error({ err: (err as Error)?.message ?? String(err) }, 'gateway job failed'));
    this.chain = next;
    return next;
  }

  /**
   * A task message: every one that passes admission is accepted and gets one outcome, also while the
   * gateway drains (it runs as usual) or has closed (its PUBACK goes out all the same): then a
   * journaled task is left open in the journal for the next process, any other one reported dropped.
   */
  onTask(msg: TaskAnnouncement): Promise<void> {
    const refusal = admitTask(msg, this.o.scenario, this.o.clock.now(), { served: this.served, seen: this.seen });
    if (refusal) {
      this.refusals.refuse(refusal.code, { iedId: msg.iedId, taskId: msg.taskId, detail: refusal.detail }, 'task refused');
      return Promise.resolve();
    }
    const journal = this.o.journal?.journal;
    journal?.accepted(msg); // on disk before this handler returns, so before our PUBACK; a failed write stops the process
    this.seen.add(msg.taskId);
    if (!this.closed) return this.enqueueDecision(msg);
    if (journal) this.leftToNext++;
    else this.publishResult(msg, false, 'pending', msg.deadlineSeconds);
    return Promise.resolve();
  }

  /**
   * Queues a task's decision. Tasks accepted while a decision job waits at the tail of the chain join
   * it, so their decisions leave in one socket write (protocol/mqtt.ts, coalesceWrites). A job queued
   * after it (a slot end, a model swap) closes the batch, so every task is still decided in the slot
   * order it arrived in. decideBatch closes its own batch when it starts: a task accepted during its
   * rounds goes to the next job.
   */
  private enqueueDecision(msg: TaskAnnouncement): Promise<void> {
    const open = this.openBatch;
    if (open && open.tasks.length < MAX_DECISION_BATCH) {
      open.tasks.push(msg);
      return open.done;
    }
    const tasks = [msg];
    const done = this.enqueue(() => this.decideBatch(tasks));
    this.openBatch = { tasks, done }; // after enqueue(), which closes any batch before it
    return done;
  }

  /**
   * Decides a batch in rounds that hold one task per IED: tasks of different IEDs observe disjoint
   * state (their own queues, the last edge reports), so a round's observations equal those of deciding
   * them one by one; an IED's next task waits for the next round, after its previous decision.
   */
  private async decideBatch(tasks: TaskAnnouncement[]): Promise<void> {
    if (this.openBatch?.tasks === tasks) this.openBatch = null;
    let rest = tasks;
    while (rest.length > 0) {
      const round: TaskAnnouncement[] = [];
      const later: TaskAnnouncement[] = [];
      const inRound = new Set<number>();
      for (const msg of rest) {
        if (inRound.has(msg.iedId)) later.push(msg);
        else {
          inRound.add(msg.iedId);
          round.push(msg);
        }
      }
      const choices: Choice[] = [];
      for (const msg of round) choices.push(await this.choose(msg)); // one at a time: inferenceMicros is each run's own
      round.forEach((msg, k) => this.act(msg, choices[k] as Choice));
      rest = later;
    }
  }

  /** The task arrives in the world and its IED's actor chooses; an inference failure chooses local. */
  private async choose(msg: TaskAnnouncement): Promise<Choice> {
    const w = this.world;
    const i = msg.iedId;
    // a task stamped in a slot this process has not reached yet (clock skew) counts from now
    const arrival = Math.min(slotAt(msg.createdAt, this.o.epochMs, this.slotMs), w.slot + 0.999);
    w.arrive(i, { sizeMbit: msg.sizeMbit, density: msg.density, deadlineSeconds: msg.deadlineSeconds }, arrival, msg);
    const executor = this.o.executor;
    if (executor) w.setLocalWait(i, executor.waitSeconds(i)); // the observation's local wait
    encodeObservation(this.obs, 0, w.observationFields(i), this.model.scales);
    const session = this.model.sessions.get(i) as ActorSession;
    try {
      const d = await session.decide(this.obs, this.hidden.at(i, session.hiddenSize, this.world.slot));
      if (session.hiddenSize > 0) this.hidden.set(i, d.hidden); // h_a steps at each decision (actor-net.ts)
      this.metrics.inference.observe(d.micros / 1e6);
      if (Number.isInteger(d.action) && d.action >= 0 && d.action <= w.M) return { action: d.action, micros: d.micros };
      this.o.logger.error({ action: d.action, taskId: msg.taskId }, 'the model chose no valid action: running the task locally');
      return { action: 0, micros: d.micros, fallback: 'invalid-action' };
    } catch (err) {
      this.metrics.inferenceErrors.inc();
      this.o.logger.error({ err: (err as Error).message, taskId: msg.taskId }, 'inference failed: running the task locally');
      return { action: 0, micros: 0, fallback: 'inference-error' };
    }
  }

  /** The choice takes effect (local executor, local queue or uplink), is journaled and published. */
  private act(msg: TaskAnnouncement, { action, micros, fallback }: Choice): void {
    const w = this.world;
    const i = msg.iedId;
    const executor = this.o.executor;
    if (action === 0 && executor) {
      w.handOffLocal(i);
      this.executing++;
      executor.submit(
        { taskId: msg.taskId, iedId: i, sizeMbit: msg.sizeMbit, density: msg.density, createdAt: msg.createdAt, deadlineAt: msg.createdAt + msg.deadlineSeconds * 1000 },
        (outcome) => {
          this.executing--;
          this.publishResult(msg, outcome.completed, 'local', outcome.completed ? Math.max(0, (outcome.finishedAt - msg.createdAt) / 1000) : msg.deadlineSeconds);
        },
      );
    } else w.decide(i, action);
    this.o.journal?.journal.decided(msg.taskId, action);
    this.o.logger.debug({ taskId: msg.taskId, action, slot: w.slot }, 'decided');
    this.metrics.decisions.inc({ action: actionName(action) });
    const left = (msg.createdAt + msg.deadlineSeconds * 1000 - this.o.clock.now()) / 1000;
    const decision = encode('decision', { v: 1, taskId: msg.taskId, iedId: i, action, policyVersion: this.model.version, decidedAt: this.o.clock.now(), inferenceMicros: micros, ...(fallback ? { fallback } : {}) });
    this.o.mqtt.publish(topics.decision(i), decision, publishOptions('decision', this.o.mqtt, left), (err) => {
      if (err) this.o.logger.warn({ err: err.message }, 'publish decision failed');
    });
  }

  onEdgeState(msg: EdgeState): void {
    const m = msg.edgeServerId - 1;
    if (!(m >= 0 && m < this.world.M)) {
      this.refusals.refuse('unknown-edge', { edgeServerId: msg.edgeServerId }, 'edge state from a server outside the plant');
      return;
    }
    this.world.observeEdge(m, msg.activeQueues, (i) => msg.backlogMbit[String(i)] ?? 0, this.served);
  }

  onBand(msg: BandReport): void {
    const refusal = this.band?.accept(msg, this.world.slot);
    if (refusal) this.refusals.refuse(refusal.code, { gateway: msg.gateway, detail: refusal.detail }, 'band report refused');
  }

  private onSlotEnd(slot: number): void {
    if (this.closed) return;
    this.world.catchUpTo(slot);
    const band = this.band;
    const ending = this.world.slot;
    band?.fill(this.world.otherSenders, ending);
    this.world.endSlot({ edge: false, uplink: true });
    const report = band?.report(ending, this.world.ownSenders);
    if (band && report) this.o.mqtt.publish(topics.band(band.self), encode('band', report), publishOptions('band'));
    this.metrics.openTasks.set(this.world.open + this.offloaded.size);
    this.watchdog();
  }

  /** `server`: the edge server the topic names (the broker's ACL lets only that server publish there) */
  onEdgeResult(r: MessageOf['edgeResult'], server: number): void {
    const refusal = this.offloaded.settle(r, server);
    if (refusal) return this.refusals.refuse(refusal.code, { taskId: r.taskId, iedId: r.iedId, detail: refusal.detail }, 'edge result refused');
    this.metrics.outcomes.inc({ outcome: r.outcome, stage: r.stage });
    if (r.outcome === 'completed') this.metrics.latency.observe(r.latencySeconds);
    const { v, taskId, iedId, outcome, stage, latencySeconds, at } = r; // the result's own fields only
    this.sendResult(taskId, iedId, encode('result', { v, taskId, iedId, outcome, stage, latencySeconds, at }));
    this.o.journal?.journal.flush(); // on disk before this handler returns, so before the edge result's PUBACK
  }

  private watchdog(): void {
    for (const msg of this.offloaded.overdue(this.o.clock.now(), OFFLOAD_GRACE_MS)) {
      this.metrics.lostOffloads.inc();
      this.o.logger.warn({ taskId: msg.taskId }, 'no edge result for an offloaded task: reporting it dropped');
      this.publishResult(msg, false, 'edge', msg.deadlineSeconds);
    }
  }

  private onUploaded(msg: TaskAnnouncement, upload: Upload): void {
    const w = this.world;
    const offload = encode('offload', {
      v: 1, taskId: msg.taskId, iedId: msg.iedId, edgeServerId: upload.server + 1, sizeMbit: msg.sizeMbit, density: msg.density,
      createdAt: msg.createdAt, deadlineAt: msg.createdAt + msg.deadlineSeconds * 1000, uploadedAt: this.o.epochMs + (w.slot + 1) * this.slotMs,
      uplinkSeconds: upload.uplinkSeconds, ...(upload.sharers !== undefined ? { uplinkSharers: upload.sharers } : {}),
    });
    this.offloaded.record(msg, upload.server + 1);
    this.o.journal?.journal.offloaded(msg.taskId, upload.server + 1); // before it leaves: a restart waits for its edge result
    this.o.logger.debug({ taskId: msg.taskId, slot: w.slot }, 'offload sent');
    this.outbox.publish(topics.offload(upload.server + 1), offload, publishOptions('offload')); // never expires: see publish-options.ts
  }

  private publishResult(msg: TaskAnnouncement, completed: boolean, stageName: StageName, latencySeconds: number): void {
    this.metrics.outcomes.inc({ outcome: completed ? 'completed' : 'dropped', stage: stageName });
    if (completed) this.metrics.latency.observe(latencySeconds);
    const result = encode('result', { v: 1, taskId: msg.taskId, iedId: msg.iedId, outcome: completed ? 'completed' : 'dropped', stage: stageName, latencySeconds, at: this.o.clock.now() });
    this.o.logger.debug({ taskId: msg.taskId, completed, stage: stageName }, 'result');
    this.sendResult(msg.taskId, msg.iedId, result);
  }

  /**
   * The one result of a task: journaled before it leaves, marked settled when the broker has it, or
   * has refused it for good (an ACL that does not let this identity speak for the IED): sending it
   * again could not help, and the journal must not keep it forever. Counted and logged.
   */
  private sendResult(taskId: string, iedId: number, payload: string): void {
    const journal = this.o.journal?.journal;
    journal?.resolved(taskId, payload);
    this.outbox.publish(topics.result(iedId), payload, publishOptions('result'), (refused) => this.resultSettled(taskId, iedId, refused));
  }

  private resultSettled(taskId: string, iedId: number, refused?: { code: number; message: string }): void {
    if (refused) {
      this.metrics.resultsRefused.inc();
      this.o.logger.error({ taskId, iedId, reasonCode: refused.code, err: refused.message }, 'the broker refused a result: it is not sent again (check the broker ACL for this gateway)');
    }
    this.o.journal?.journal.settled(taskId);
  }

  /**
   * What a previous process of this gateway left in its journal: its task ids are refused as
   * duplicates; its unacknowledged results go out again (consumers count a task id once); a task
   * offloaded waits for its edge result (or the watchdog); any other open task is decided again if its
   * deadline has not passed (its first run died with that process), else reported dropped where it was.
   */
  private recover(r: Recovered): void {
    for (const taskId of r.seen) this.seen.add(taskId);
    for (const u of r.unsettled) this.outbox.publish(topics.result(u.iedId), u.payload, publishOptions('result'), (refused) => this.resultSettled(u.taskId, u.iedId, refused));
    const now = this.o.clock.now();
    const count = { offloaded: 0, redecided: 0, dropped: 0 };
    for (const { msg, action, edgeServerId } of r.open) {
      const stage: StageName = edgeServerId !== undefined ? 'edge' : action === undefined ? 'pending' : action === 0 ? 'local' : 'uplink';
      // an IED this process no longer serves (--ieds changed): its edge result cannot reach us, and
      // no model here can decide it; this journal accepted it, so its one outcome is ours to report
      if (!this.served.has(msg.iedId)) {
        count.dropped++;
        this.publishResult(msg, false, stage, msg.deadlineSeconds);
      } else if (edgeServerId !== undefined) {
        count.offloaded++;
        this.offloaded.record(msg, edgeServerId);
      } else if (now < msg.createdAt + msg.deadlineSeconds * 1000) {
        count.redecided++;
        void this.enqueueDecision(msg);
      } else {
        count.dropped++;
        this.publishResult(msg, false, stage, msg.deadlineSeconds);
      }
    }
    for (const [state, n] of Object.entries(count)) this.metrics.journalRecovered.inc({ state }, n);
    this.metrics.journalRecovered.inc({ state: 'republished' }, r.unsettled.length);
    if (r.open.length + r.unsettled.length > 0 || r.tornLines > 0)
      this.o.logger.info({ ...count, republished: r.unsettled.length, remembered: r.seen.length, tornLines: r.tornLines }, 'recovered from the task journal');
  }

  /** Swap to another model version between two decisions; the old sessions are released after. */
  swapModel(next: ModelHandle): Promise<void> {
    for (const i of this.served) if (!next.sessions.has(i)) return Promise.reject(new Error(`model ${next.version} has no actor for IED ${i}`));
    return this.enqueue(async () => {
      const old = this.model;
      this.model = next;
      this.metrics.modelInfo.reset();
      this.metrics.modelInfo.set({ version: next.version, encoder: OBS_ENCODER_VERSION }, 1);
      this.hidden.clear(); // a new actor starts from h = 0, as in training
      this.metrics.modelLoads.inc({ result: 'ok' });
      this.o.logger.info({ from: old.version, to: next.version }, 'model swapped');
      await Promise.all([...new Set(old.sessions.values())].map((s) => s.release()));
    });
  }

  /** Resolves when every job queued so far has run (tests, shutdown). */
  idle(): Promise<void> {
    return this.enqueue(() => {});
  }

  health(): { ok: boolean; connected: boolean; slot: number; inFlight: number; modelVersion: string } {
    return { ok: !this.closed && this.o.mqtt.connected, connected: this.o.mqtt.connected, slot: this.world.slot, inFlight: this.world.open + this.offloaded.size, modelVersion: this.model.version };
  }

  /** tasks accepted here whose outcome is not known yet (local, uplink, or at an edge server) */
  get pending(): number {
    return this.world.open + this.offloaded.size + this.executing + this.outbox.pending;
  }

  /** results still to be handed to the MQTT client: queued here, or of local jobs still running (endAfterAcks waits for them) */
  get unsent(): number {
    return this.outbox.pending + this.executing;
  }

  /**
   * Give the accepted tasks up to `drainMs` to reach their outcomes (the world and the watchdog keep
   * running, and tasks that arrive meanwhile are served as usual); then stop. What is still open then
   * is left in the journal for this gateway's next process (it re-decides, awaits or drops each one as
   * after a crash) or, without a journal, reported dropped (a restart would not know these tasks).
   * Tasks with the local executor report themselves.
   */
  async close(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.closed || this.draining) return;
    this.draining = true;
    const until = this.o.clock.now() + (opts.drainMs ?? 0);
    while (this.world.open + this.offloaded.size + this.executing > 0 && this.o.clock.now() < until) await new Promise((r) => setTimeout(r, 50));
    this.closed = true;
    this.ticker.stop();
    await this.idle();
    if (this.o.journal) {
      // offloads stay in the ledger: an edge result that still arrives before the connection ends is
      // journaled (and republished by the next process if its publish does not get through)
      this.leftToNext += this.world.abandonAll().length + this.offloaded.size;
    } else {
      const open = [...this.world.abandonAll(), ...this.offloaded.drain().map((msg): [TaskAnnouncement, StageName] => [msg, 'edge'])];
      for (const [msg, stage] of open) this.publishResult(msg, false, stage, msg.deadlineSeconds);
    }
    this.refusals.flush();
    while (this.outbox.pending > 0) await new Promise((r) => setImmediate(r));
    if (this.leftToNext > 0) this.o.logger.info({ tasks: this.leftToNext }, 'open tasks left in the journal for the next process');
  }
}
