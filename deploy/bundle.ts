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
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.ts';
import { modelFileName, readManifest, verifyModelSet } from '../core/model-set.ts';
import { resolveModelDir } from '../runtime-ied/model-loader.ts';
import { buildGateway } from './build-gateway.ts';
import { signBundle, type BundleManifest } from './signing.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface BundleOptions {
  readonly ied: number;
  readonly modelPath: string;
  readonly outDir: string;
  readonly privateKeyPem: string;
  readonly broker: string;
  readonly arch?: 'x64' | 'arm64';
  readonly engine?: 'node' | 'web';
}

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
  const config = { ied: o.ied, broker: o.broker, engine: o.engine ?? 'node', model: 'model', scenario: 'scenario.json', modelVersion: models.version };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const unit = `gmel-ied-${o.ied}.service`;
  writeFileSync(join(dir, unit), `[Unit]
Description=GMEL edge gateway runtime, IED ${o.ied}
After=network-online.target
Wants=network-online.target

[Service]
WorkingDirectory=/opt/gmel/ied-${o.ied}
ExecStart=/usr/bin/env node gmel-ied.mjs --ieds ${o.ied} --model model --scenario scenario.json --engine ${config.engine} --broker ${o.broker} --http-port 9100
Restart=always
RestartSec=2
User=gmel
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
`);
  const install = join(dir, 'install.sh');
  writeFileSync(install, `#!/bin/sh
# Install this GMEL edge gateway bundle (IED ${o.ied}). Usage: sudo ./install.sh /etc/gmel/deploy.pub
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pub=\${1:-/etc/gmel/deploy.pub}
# refuse a bundle whose signature or checksums do not match the trusted key
node "$here/gmel-ied.mjs" verify-bundle "$here" --pub "$pub"
id -u gmel >/dev/null 2>&1 || useradd --system --no-create-home gmel
mkdir -p /opt/gmel
rm -rf /opt/gmel/ied-${o.ied}.new
cp -r "$here" /opt/gmel/ied-${o.ied}.new
rm -rf /opt/gmel/ied-${o.ied}.old
[ -d /opt/gmel/ied-${o.ied} ] && mv /opt/gmel/ied-${o.ied} /opt/gmel/ied-${o.ied}.old
mv /opt/gmel/ied-${o.ied}.new /opt/gmel/ied-${o.ied}
cp /opt/gmel/ied-${o.ied}/${unit} /etc/systemd/system/${unit}
systemctl daemon-reload
systemctl enable --now ${unit}
systemctl restart ${unit}
echo "installed ${unit} (model ${models.version})"
`);
  chmodSync(install, 0o755);
  const manifest = signBundle(dir, o.privateKeyPem, { ied: o.ied, modelVersion: models.version });
  return { dir, manifest };
}

export function readKey(path: string): string {
  if (!existsSync(path)) throw new InputError(`no key at ${path} (make one with: gmel deploy keygen)`);
  return readFileSync(path, 'utf8');
}
