/**
 * `gmel deploy bundle`: a flashable gateway bundle for one IED, signed.
 *
 * | path                              | what                                                         |
 * |-----------------------------------|--------------------------------------------------------------|
 * | gmel-ied.mjs                      | the gateway runtime as one file (build-gateway.ts)           |
 * | node_modules/onnxruntime-*        | the inference engine, this architecture's binary only        |
 * | model/ied-<i>.onnx, manifest.json | the IED's actor and the model set's manifest (its checksum)  |
 * | scenario.json, config.json        | the plant the model was trained for; broker and IED settings |
 * | gmel-ied-<i>.service              | systemd unit                                                  |
 * | install.sh                        | verifies the bundle, installs it under /opt, enables the unit |
 * | bundle-manifest.json / .sig       | sha256 of every file, Ed25519 signature (signing.ts)          |
 * | SHA256SUMS / .sig                 | the same checksums for the host's sha256sum, signed (install.sh) |
 */
import { createPrivateKey } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.ts';
import { parseBrokerUrl } from '../protocol/broker-options.ts';
import { modelFileName, readManifest, verifyModelSet } from '../core/model-set.ts';
import { resolveModelDir } from '../core/model-set.ts';
import { buildGateway } from './build-gateway.ts';
import { signBundle, BUNDLE_MANIFEST, BUNDLE_SIGNATURE, BUNDLE_SUMS, BUNDLE_SUMS_SIGNATURE, type BundleManifest } from './signing.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface BundleOptions {
  readonly ied: number;
  readonly modelPath: string;
  readonly outDir: string;
  readonly privateKeyPem: string;
  readonly broker: string;
  readonly arch?: 'x64' | 'arm64';
  readonly engine?: 'node' | 'web';
  /** the model registry over-the-air updates come from (pinned in the unit: a desire naming another is refused) */
  readonly registry?: string;
  /** /healthz and /metrics port of this IED's gateway (default GATEWAY_PORT_BASE + ied: IEDs on one host never clash) */
  readonly httpPort?: number;
}

/** Default health/metrics port of IED i's gateway: GATEWAY_PORT_BASE + i. */
export const GATEWAY_PORT_BASE = 9100;
/** The registry a bundle's gateway follows unless told otherwise (as the broker default, a name the plant's DNS resolves). */
export const DEFAULT_REGISTRY = 'http://gmel-registry:9200';
/** Where the operator installs the deploy public key out of band (the bundle never carries it). */
export const TRUSTED_KEY_PATH = '/etc/gmel/deploy.pub';
/** The oldest Node.js the bundled gateway runs on. */
export const MIN_NODE_MAJOR = 20;

function copyRuntimeDeps(dest: string, arch: string): void {
  const ortNode = join(root, 'node_modules', 'onnxruntime-node');
  const to = join(dest, 'node_modules', 'onnxruntime-node');
  mkdirSync(to, { recursive: true });
  cpSync(join(ortNode, 'package.json'), join(to, 'package.json'));
  cpSync(join(ortNode, 'dist'), join(to, 'dist'), { recursive: true });
  const bin = join(ortNode, 'bin', 'napi-v6', 'linux', arch);
  if (!existsSync(bin)) throw new InputError(`onnxruntime-node has no linux/${arch} binary`);
  cpSync(bin, join(to, 'bin', 'napi-v6', 'linux', arch), { recursive: true });
  cpSync(join(root, 'node_modules', 'onnxruntime-common'), join(dest, 'node_modules', 'onnxruntime-common'), { recursive: true });
}

/**
 * Node flags of the signed unit's gateway (one IED per gateway: a few decisions a second), for memory:
 * a 1 MiB semi-space keeps the young generation small; no optimizing compilers (TurboFan, Sparkplug)
 * and V8's size-over-speed heuristics save their code and metadata. Not `--lite-mode`: it implies
 * `--jitless`, which removes WebAssembly, and with it Node's fetch (its HTTP parser is wasm), so
 * over-the-air downloads and onnxruntime-web would fail (test/deploy/bundle.test.ts checks both).
 * Measured by `npm run bench -- gateway` with and without them (bench/results/gateway-footprint.json).
 * Not for a gateway emulating thousands of IEDs at thousands of tasks/s, where the compilers pay.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--no-opt', '--no-sparkplug', '--optimize-for-size'];

export async function buildBundle(o: BundleOptions): Promise<{ dir: string; manifest: BundleManifest }> {
  const modelDir = resolveModelDir(o.modelPath);
  const models = verifyModelSet(modelDir);
  if (!(Number.isInteger(o.ied) && o.ied >= 0 && o.ied < models.ieds)) throw new InputError(`--ied ${o.ied}: the model set has IEDs 0..${models.ieds - 1}`);
  const dir = join(o.outDir, `ied-${o.ied}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'model'), { recursive: true });
  await buildGateway(join(dir, 'gmel-ied.mjs'));
  copyRuntimeDeps(dir, o.arch ?? 'x64');
  cpSync(join(modelDir, modelFileName(o.ied)), join(dir, 'model', modelFileName(o.ied)));
  cpSync(join(modelDir, 'manifest.json'), join(dir, 'model', 'manifest.json'));
  writeFileSync(join(dir, 'scenario.json'), JSON.stringify(readManifest(modelDir).scenario, null, 2) + '\n');
  // both go into the signed unit's ExecStart line: a URL, nothing that could add a directive
  // (--broker may list a cluster's nodes: the gateway's own check first, so the unit cannot fail at boot)
  let broker: string;
  try {
    broker = parseBrokerUrl(o.broker);
  } catch (err) {
    throw new InputError(`--broker ${JSON.stringify(o.broker)}: not a plain URL or list of them (${(err as Error).message})`);
  }
  for (const [flag, list] of [['--broker', broker.split(',')], ['--registry', [o.registry ?? DEFAULT_REGISTRY]]] as const)
    for (const url of list)
      if (!/^(mqtts?|wss?|https?):\/\/[\w.:[\]@%-]+(\/[\w./%-]*)?$/.test(url)) throw new InputError(`${flag} ${JSON.stringify(url)}: not a plain URL (scheme://host[:port][/path])`);
  const httpPort = o.httpPort ?? GATEWAY_PORT_BASE + o.ied;
  const registry = o.registry ?? DEFAULT_REGISTRY;
  if (!(Number.isInteger(httpPort) && httpPort > 0 && httpPort < 65536)) throw new InputError(`--http-port ${httpPort}: not a port`);
  const config = { ied: o.ied, broker, engine: o.engine ?? 'node', model: 'model', scenario: 'scenario.json', modelVersion: models.version, httpPort, registry, trustedKey: TRUSTED_KEY_PATH, minNodeMajor: MIN_NODE_MAJOR };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const unit = `gmel-ied-${o.ied}.service`;
  writeFileSync(join(dir, unit), `[Unit]
Description=GMEL edge gateway runtime, IED ${o.ied}
After=network-online.target
Wants=network-online.target

[Service]
WorkingDirectory=/opt/gmel/ied-${o.ied}
# over-the-air updates on by default: signed by the key installed out of band at ${TRUSTED_KEY_PATH};
# the task journal: accepted tasks survive a crash or kill -9 (docs/security.md, crash safety)
ExecStart=/usr/bin/env node ${GATEWAY_NODE_FLAGS.join(' ')} gmel-ied.mjs --ieds ${o.ied} --model model --scenario scenario.json --engine ${config.engine} --broker ${broker} --http-port ${httpPort} --trusted-key ${TRUSTED_KEY_PATH} --registry ${registry} --work-dir /var/lib/gmel/ied-${o.ied}/ota --journal /var/lib/gmel/ied-${o.ied}/journal
StateDirectory=gmel/ied-${o.ied}
StateDirectoryMode=0700
Restart=always
RestartSec=2
User=gmel
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
`);
  const install = join(dir, 'install.sh');
  writeFileSync(install, installScript(o.ied, unit, models.version));
  chmodSync(install, 0o755);
  const manifest = signBundle(dir, o.privateKeyPem, { ied: o.ied, modelVersion: models.version });
  return { dir, manifest };
}

/** A private signing key (PEM), checked before anything is built or signed with it. */
export function readKey(path: string): string {
  if (!existsSync(path)) throw new InputError(`no key at ${path} (make one with: gmel deploy keygen)`);
  const pem = readFileSync(path, 'utf8');
  try {
    if (createPrivateKey(pem).asymmetricKeyType !== 'ed25519') throw new InputError(`${path} is not an Ed25519 key`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path} is not a private key${/PUBLIC KEY/.test(pem) ? ' (it is a public key: sign with the .key file from gmel deploy keygen)' : ''}`);
  }
  return pem;
}

/**
 * install.sh: checks the bundle with the host's tools only (openssl, sha256sum) against a public key
 * installed out of band, never with code from the bundle it is checking; `--verify-only` stops there.
 */
function installScript(ied: number, unit: string, modelVersion: string): string {
  return `#!/bin/sh
# Install this GMEL edge gateway bundle (IED ${ied}).
#   sudo ./install.sh [/etc/gmel/deploy.pub]            verify, then install and start ${unit}
#   ./install.sh --verify-only [/etc/gmel/deploy.pub]   verify only
# The public key must come from your own channel (never from this bundle): see deploy/README.md.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
verify_only=0
if [ "\${1:-}" = "--verify-only" ]; then verify_only=1; shift; fi
pub=\${1:-${TRUSTED_KEY_PATH}}
[ -r "$pub" ] || { echo "install.sh: no trusted public key at $pub (install it out of band first: deploy/README.md)" >&2; exit 2; }
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge ${MIN_NODE_MAJOR} ] || { echo "install.sh: the gateway needs Node.js ${MIN_NODE_MAJOR} or newer on this host (found: $(node --version 2>/dev/null || echo none))" >&2; exit 2; }
command -v openssl >/dev/null && command -v sha256sum >/dev/null || { echo "install.sh: needs openssl and sha256sum on the host" >&2; exit 2; }
cd "$here"
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in ${BUNDLE_SUMS} -sigfile ${BUNDLE_SUMS_SIGNATURE} >/dev/null 2>&1 \\
  || { echo "install.sh: ${BUNDLE_SUMS} is not signed by the key in $pub (wrong key or tampered bundle)" >&2; exit 1; }
sha256sum --check --strict --quiet ${BUNDLE_SUMS} || { echo "install.sh: a file does not match its signed checksum" >&2; exit 1; }
listed=$(sed 's/^[0-9a-f]*  //' ${BUNDLE_SUMS} | sort)
present=$(find . -type f | sed 's|^\\./||' | grep -vxF -e ${BUNDLE_SUMS} -e ${BUNDLE_SUMS_SIGNATURE} -e ${BUNDLE_MANIFEST} -e ${BUNDLE_SIGNATURE} | sort)
[ "$listed" = "$present" ] || { echo "install.sh: files not in the signed list: $(printf '%s\\n' "$present" | grep -vxF "$listed" | head -5 | tr '\\n' ' ')" >&2; exit 1; }
echo "bundle ok: IED ${ied}, model ${modelVersion}"
[ "$verify_only" = 1 ] && exit 0
# the gateway follows over-the-air updates signed by the key it was installed with
if [ "$pub" != "${TRUSTED_KEY_PATH}" ]; then mkdir -p /etc/gmel && install -m 0644 "$pub" ${TRUSTED_KEY_PATH}; fi
id -u gmel >/dev/null 2>&1 || useradd --system --no-create-home gmel
mkdir -p /opt/gmel
rm -rf /opt/gmel/ied-${ied}.new
cp -r "$here" /opt/gmel/ied-${ied}.new
rm -rf /opt/gmel/ied-${ied}.old
[ -d /opt/gmel/ied-${ied} ] && mv /opt/gmel/ied-${ied} /opt/gmel/ied-${ied}.old
mv /opt/gmel/ied-${ied}.new /opt/gmel/ied-${ied}
cp /opt/gmel/ied-${ied}/${unit} /etc/systemd/system/${unit}
systemctl daemon-reload
systemctl enable --now ${unit}
systemctl restart ${unit}
echo "installed ${unit} (model ${modelVersion})"
`;
}
