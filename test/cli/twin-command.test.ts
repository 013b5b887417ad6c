// `gmel twin` with automatic deployment: the flags are checked before anything starts, and a complete
// set of them becomes the Retrainer's deploy plan.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twinDeployPlan } from '../../cli/twin-command.ts';
import { generateKeys } from '../../deploy/signing.ts';

const keys = generateKeys(join(mkdtempSync(join(tmpdir(), 'gmel-twin-cli-')), 'keys'));
const base = {
  window: '300', run: 'runs/amarl-quick-s1', models: 'models/gmel2024-amarl', retrainEpisodes: '50', margin: '1', every: '0',
  modelSet: 'gmel2024-amarl', canary: '0.1', canaryWindow: '60', maxDrop: '5', minTasks: '50',
  registry: 'http://127.0.0.1:9200', deployKey: keys.privateKey, running: 'v1',
};
const env = { GMEL_REGISTRY_TOKEN: 'token-0123456789abcdef' };

t.test('export only without --registry', async (t) => {
  t.equal(twinDeployPlan({ ...base, registry: undefined }, 50, env), undefined);
});

t.test('each missing piece is named', async (t) => {
  t.throws(() => twinDeployPlan({ ...base, run: undefined }, 50, env), /--registry needs --run/);
  t.throws(() => twinDeployPlan({ ...base, deployKey: undefined }, 50, env), /--registry needs --deploy-key/);
  t.throws(() => twinDeployPlan({ ...base, running: undefined }, 50, env), /--registry needs --running/);
  t.throws(() => twinDeployPlan(base, 50, {}), /GMEL_REGISTRY_TOKEN/);
  t.throws(() => twinDeployPlan({ ...base, canary: '0' }, 50, env), /--canary must be in \(0, 1\]/);
  t.throws(() => twinDeployPlan({ ...base, maxDrop: 'five' }, 50, env), /--max-drop must be a non-negative number, got "five"/);
  t.throws(() => twinDeployPlan({ ...base, minTasks: '-1' }, 50, env), /--min-tasks must be/);
  t.throws(() => twinDeployPlan({ ...base, canaryWindow: 'NaN' }, 50, env), /--canary-window must be/);
  t.throws(() => twinDeployPlan({ ...base, deployKey: '/nonexistent/key.pem' }, 50, env), /--deploy-key \/nonexistent\/key\.pem: ENOENT/);
});

t.test('a complete plan', async (t) => {
  const plan = twinDeployPlan({ ...base, ieds: '0-3' }, 50, env);
  t.same(plan?.iedIds, [0, 1, 2, 3]);
  t.equal(plan?.privateKeyPem, readFileSync(keys.privateKey, 'utf8'));
  t.same([plan?.canaryFraction, plan?.windowMs, plan?.maxDropPp, plan?.minTasks, plan?.runningVersion], [0.1, 60_000, 5, 50, 'v1']);
  t.equal(twinDeployPlan(base, 5, env)?.iedIds.length, 5, 'default: every IED of the plant');
});
