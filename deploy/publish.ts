/**
 * Publishing a model set version to the registry (deploy/registry.ts): every file first, the manifest
 * last (the registry publishes the version when its manifest arrives and verifies).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../core/errors.ts';

export async function publishModelSet(o: { versionDir: string; registry: string; token: string; modelSet: string; version: string }): Promise<void> {
  const files = readdirSync(o.versionDir).filter((f) => f !== 'manifest.json' && !f.startsWith('.'));
  for (const f of [...files.sort(), 'manifest.json']) {
    const res = await fetch(`${o.registry.replace(/\/$/, '')}/models/${o.modelSet}/${o.version}/${f}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(join(o.versionDir, f)),
    });
    if (res.status !== 202 && res.status !== 201) throw new InputError(`registry refused ${o.modelSet}/${o.version}/${f}: HTTP ${res.status} ${await res.text()}`);
  }
}
