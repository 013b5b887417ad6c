/**
 * `gmel deploy`: signing keys, signed gateway bundles, verification.
 *
 *   gmel deploy keygen --out keys                      # keys/gmel-deploy.key (keep secret) + .pub
 *   gmel deploy bundle --ied 7 --key keys/gmel-deploy.key --out bundles [--model …] [--broker …]
 *   gmel deploy bundle --all --key keys/gmel-deploy.key --out bundles
 *   gmel deploy verify bundles/ied-7 --pub keys/gmel-deploy.pub
 *   GMEL_REGISTRY_TOKEN=… gmel deploy registry --store models --port 9200
 *   gmel deploy acl --scenario gmel2024 --out broker-auth [--gateway 0-49] [--conf-dir /etc/mosquitto/gmel]
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.ts';
import { parseIedIds, repeatable, scenarioFrom, scenarioOptions, type ScenarioFlags } from '../core/scenario/options.ts';
import { brokerOptions, brokerAuth, type BrokerFlags } from '../protocol/broker-options.ts';
import { canaryOptions, canaryPlan, shareFlag } from './flags.ts';

export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('gateway bundles: keys, signed bundles, verification, model rollout');
  registerKeygen(deploy);
  registerBundle(deploy);
  registerVerify(deploy);
  registerSignModels(deploy);
  registerDesire(deploy);
  registerRollout(deploy);
  registerRegistry(deploy);
  registerAcl(deploy);
}

/** `gmel deploy keygen`: an Ed25519 signing key pair. */
function registerKeygen(deploy: Command): void {
  deploy
    .command('keygen')
    .description('make an Ed25519 signing key pair (never commit the .key file)')
    .option('--out <dir>', 'where to write gmel-deploy.key and gmel-deploy.pub', 'keys')
    .action(async (o: { out: string }) => {
      const { generateKeys, keyId } = await import('../deploy/signing.ts');
      const keys = generateKeys(o.out);
      console.log(JSON.stringify({ ...keys, keyId: keyId(readFileSync(keys.publicKey, 'utf8')) }));
    });
}

/** `gmel deploy bundle`: signed, flashable gateway bundles. */
function registerBundle(deploy: Command): void {
  deploy
    .command('bundle')
    .description('build signed, flashable gateway bundles')
    .option('--ied <i>', 'the IED to bundle')
    .option('--all', 'one bundle per IED of the model set')
    .requiredOption('--key <file>', 'Ed25519 private key (gmel deploy keygen)')
    .option('--model <dir>', 'model set (newest version) or version folder', 'models/gmel2024-amarl')
    .option('--broker <url>', 'the broker the gateway will use', 'mqtt://gmel-broker:1883')
    .option('--registry <url>', 'the model registry the gateway follows over the air', 'http://gmel-registry:9200')
    .option('--arch <arch>', 'x64 | arm64', 'x64')
    .option('--http-port <n>', 'the gateway\'s /healthz and /metrics port (default 9100 + the IED id)')
    .option('--out <dir>', 'output folder', 'bundles')
    .action(async (o: { ied?: string; all?: boolean; key: string; model: string; broker: string; registry: string; arch: string; out: string; httpPort?: string }) => {
      if ((o.ied === undefined) === !o.all) throw new UsageError('give either --ied <i> or --all');
      if (o.arch !== 'x64' && o.arch !== 'arm64') throw new UsageError(`--arch must be x64 or arm64, got "${o.arch}"`);
      const { buildBundle, readKey } = await import('../deploy/bundle.ts');
      const { readManifest } = await import('../core/model-set.ts');
      const { resolveModelDir } = await import('../core/model-set.ts');
      const key = readKey(o.key);
      const ieds = o.all ? Array.from({ length: readManifest(resolveModelDir(o.model)).ieds }, (_, i) => i) : [Number(o.ied)];
      for (const ied of ieds) {
        const { dir, manifest } = await buildBundle({ ied, modelPath: o.model, outDir: o.out, privateKeyPem: key, broker: o.broker, registry: o.registry, arch: o.arch, ...(o.httpPort !== undefined ? { httpPort: Number(o.httpPort) } : {}) });
        console.log(JSON.stringify({ dir, ied, modelVersion: manifest.modelVersion, files: Object.keys(manifest.files).length, keyId: manifest.keyId }));
      }
    });
}

/** `gmel deploy verify`: a bundle against a trusted public key (on the operator's machine). */
function registerVerify(deploy: Command): void {
  deploy
    .command('verify')
    .description('verify a bundle against a trusted public key')
    .argument('<dir>', 'bundle folder')
    .requiredOption('--pub <file>', 'trusted public key')
    .action(async (dir: string, o: { pub: string }) => {
      const { verifyBundle } = await import('../deploy/signing.ts');
      const manifest = verifyBundle(dir, readFileSync(o.pub, 'utf8'));
      console.log(JSON.stringify({ ok: true, ied: manifest.ied, modelVersion: manifest.modelVersion, files: Object.keys(manifest.files).length }));
    });
}

/** `gmel deploy sign-models`: sign a model set version for over-the-air updates. */
function registerSignModels(deploy: Command): void {
  deploy
    .command('sign-models')
    .description('sign a model set version (manifest.sig) with the deploy key, for over-the-air updates')
    .argument('<dir>', 'model set version folder')
    .requiredOption('--key <file>', 'Ed25519 private key')
    .action(async (dir: string, o: { key: string }) => {
      const { signModelSet } = await import('../core/model-signature.ts');
      const { verifyModelSet } = await import('../core/model-set.ts');
      const { readKey } = await import('../deploy/bundle.ts');
      verifyModelSet(dir);
      signModelSet(dir, readKey(o.key));
      console.log(JSON.stringify({ signed: dir }));
    });
}

/** `gmel deploy desire`: the retained model version gateways should run. */
function registerDesire(deploy: Command): void {
  brokerOptions(deploy
    .command('desire')
    .description('set the model version gateways should run (retained gmel/v1/ied/{i}/model)')
    .requiredOption('--ieds <list>', 'IED ids, e.g. 0-4 or 7')
    .requiredOption('--model-set <name>', 'model set name in the registry')
    .requiredOption('--version <v>', 'version to run')
    .requiredOption('--registry <url>', 'model registry base URL')
    .option('--count <n>', 'number of IEDs in the plant (for id ranges)', '1000000')
    .option('--rollback-key <file>', 'sign this desire as a rollback with the deploy private key (needed to go back to an older version)'))
    .action(async (o: BrokerFlags & { ieds: string; modelSet: string; version: string; registry: string; broker: string; count: string; rollbackKey?: string }) => {
      const { encode } = await import('../protocol/codec.ts');
      const { topics } = await import('../protocol/topics.ts');
      const { publishOptions } = await import('../protocol/publish-options.ts');
      const at = Date.now();
      const rollback = o.rollbackKey
        ? { rollbackSignature: (await import('../core/model-signature.ts')).signRollback({ modelSet: o.modelSet, version: o.version, at }, (await import('../deploy/bundle.ts')).readKey(o.rollbackKey)) }
        : {};
      // one try: a broker that is not there is one line and exit 2, not a silent wait
      const { connectOnce } = await import('../protocol/mqtt.ts');
      const client = await connectOnce({ url: o.broker, clientId: `gmel-desire-${process.pid}`, ...brokerAuth(o) });
      for (const i of parseIedIds(o.ieds, Number(o.count)))
        await client.publishAsync(topics.desiredModel(i), encode('desiredModel', { v: 1, iedId: i, modelSet: o.modelSet, version: o.version, registry: o.registry, at, ...rollback }), publishOptions('desiredModel'));
      await client.endAsync();
      console.log(JSON.stringify({ desired: o.version, ieds: o.ieds }));
    });
}

/** `gmel deploy rollout`: canary first, promote if healthy, roll back if not. */
function registerRollout(deploy: Command): void {
  brokerOptions(canaryOptions(deploy
    .command('rollout')
    .description('staged rollout: canary fraction first, promote if healthy, roll back if not')
    .requiredOption('--ieds <list>', 'IEDs to update, e.g. 0-49')
    .requiredOption('--model-set <name>', 'model set name in the registry')
    .requiredOption('--from <v>', 'the version running now (rollback target)')
    .requiredOption('--to <v>', 'the new version')
    .requiredOption('--registry <url>', 'model registry base URL')
    .requiredOption('--key <file>', 'the deploy private key: a rollback to --from is signed with it (gateways refuse unsigned downgrades)'), '--window', 'the reference')
    .option('--max-decision-errors <share>', 'largest tolerated share of canary decisions that fell back to local', '0.02')
    .option('--predicted <rate>', 'the twin\'s predicted completion rate (0-1) of the new version: the reference instead of the rest of the fleet'))
    .action(async (o: BrokerFlags & { ieds: string; modelSet: string; from: string; to: string; registry: string; key: string; broker: string; canary: string; window: string; maxDrop: string; minTasks: string; maxDecisionErrors: string; predicted?: string }) => {
      const { runRollout } = await import('../deploy/rollout.ts');
      const { readKey } = await import('../deploy/bundle.ts');
      const rollbackKeyPem = readKey(o.key);
      const pino = (await import('pino')).default;
      const maxDecisionErrorRate = shareFlag(o.maxDecisionErrors, '--max-decision-errors');
      const canary = canaryPlan(o, o.window, '--window');
      const predictedRate = o.predicted === undefined ? undefined : shareFlag(o.predicted, '--predicted');
      const predicted = predictedRate === undefined ? {} : { predictCompletion: () => Promise.resolve(predictedRate) };
      const { connectOnce } = await import('../protocol/mqtt.ts');
      const client = await connectOnce({ url: o.broker, clientId: `gmel-rollout-${process.pid}`, ...brokerAuth(o) });
      const report = await runRollout({
        mqtt: client, iedIds: parseIedIds(o.ieds, 1_000_000), modelSet: o.modelSet, fromVersion: o.from, toVersion: o.to, registry: o.registry,
        ...canary, rollbackKeyPem, logger: pino({ level: 'info' }, pino.destination(2)),
        maxDecisionErrorRate, ...predicted,
      });
      await client.endAsync();
      console.log(JSON.stringify(report));
      if (report.outcome !== 'promoted') process.exitCode = 3;
    });
}

/** `gmel deploy registry`: the HTTP model registry. */
function registerRegistry(deploy: Command): void {
  deploy
    .command('registry')
    .description('serve model sets over HTTP; writes need the bearer token in $GMEL_REGISTRY_TOKEN')
    .option('--store <dir>', 'model store folder', 'models')
    .option('--port <n>', 'port', '9200')
    .option('--host <h>', 'interface', '127.0.0.1')
    .action(async (o: { store: string; port: string; host: string }) => {
      const token = process.env.GMEL_REGISTRY_TOKEN;
      if (!token) throw new UsageError('set GMEL_REGISTRY_TOKEN (≥ 16 characters) for write access');
      const { buildRegistryApp } = await import('../deploy/registry.ts');
      const app = buildRegistryApp({ storeDir: o.store, token });
      console.log(`model registry on ${await app.listen({ port: Number(o.port), host: o.host })}`);
      const stop = () => void app.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

/** `gmel deploy acl`: the broker's identities, passwords and per-device topic ACL (Mosquitto). */
function registerAcl(deploy: Command): void {
  scenarioOptions(deploy
    .command('acl')
    .description('write the broker\'s ACL, password file, credentials (0600) and mosquitto.conf snippet for the plant')
    .requiredOption('--out <dir>', 'output folder (mosquitto.acl, passwd, credentials.json, mosquitto.conf)')
    .option('--gateway <ids>', 'one gateway identity gateway-<a>-<b> for IEDs a-b (repeatable); the other IEDs get ied-<i> each', repeatable, [] as string[])
    .option('--conf-dir <dir>', 'where passwd and mosquitto.acl will lie on the broker host (default: --out, absolute)')
    .option('--rotate', 'draw new passwords for every identity (default: keep those in <out>/credentials.json)'))
    .action(async (o: ScenarioFlags & { out: string; gateway: string[]; confDir?: string; rotate?: boolean }) => {
      const { resolve } = await import('node:path');
      const { brokerAuthFiles, parseGatewayRange, previousCredentials, writeBrokerAuthFiles } = await import('../deploy/acl.ts');
      const s = scenarioFrom(o);
      const previous = o.rotate ? undefined : previousCredentials(o.out);
      const { identities, files } = brokerAuthFiles({
        ieds: s.ieds, edgeServers: s.edgeServers, gateways: o.gateway.map((g) => parseGatewayRange(g, s.ieds)),
        confDir: o.confDir ?? resolve(o.out), ...(previous ? { previous } : {}),
      });
      const written = writeBrokerAuthFiles(o.out, files);
      console.log(JSON.stringify({ out: o.out, identities: identities.length, passwordsKept: previous ? identities.filter((i) => previous.identities[i.username]).length : 0, files: written }));
    });
}
