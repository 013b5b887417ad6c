// One list of refusal codes (protocol/refusals.ts), documented once (docs/protocol.md), and one table
// of publish options per message kind (protocol/publish-options.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { REFUSALS, DECODE_ERRORS } from '../../protocol/refusals.ts';
import { decode } from '../../protocol/codec.ts';
import { publishOptions, MAX_EXPIRY_SECONDS, PUBLISH_RULES } from '../../protocol/publish-options.ts';
import { SCHEMAS } from '../../protocol/messages.ts';

t.test('docs/protocol.md documents exactly the codes the code refuses with', async (t) => {
  const doc = readFileSync('docs/protocol.md', 'utf8');
  const documented = [...doc.matchAll(/^\s*\| `([a-z-]+)` \| (?:decode|runtime) \|/gm)].map((m) => m[1]);
  t.same([...documented].sort(), Object.keys(REFUSALS).sort());
  for (const code of DECODE_ERRORS) t.match(doc, new RegExp(`\\| \`${code}\` \\| decode \\|`), `${code} is a decode refusal`);
});

t.test('decode returns only listed codes', async (t) => {
  const cases: [string, string][] = [
    ['gmel/v1/ied/1/task', 'x'.repeat(70_000)],
    ['other/topic', '{}'],
    ['gmel/v1/ied/1/task', '{'],
    ['gmel/v1/ied/1/task', '{"v":1}'],
  ];
  for (const [topic, payload] of cases) {
    const d = decode(topic, payload);
    t.notOk(d.ok);
    if (!d.ok) t.ok(d.code in REFUSALS, d.code);
  }
});

t.test('publish options: one rule per message kind, expiry capped', async (t) => {
  t.same(Object.keys(PUBLISH_RULES).sort(), Object.keys(SCHEMAS).sort(), 'every message kind has its rule');
  const v5 = { options: { protocolVersion: 5 } } as unknown as MqttClient;
  const v4 = { options: { protocolVersion: 4 } } as unknown as MqttClient;
  t.same(publishOptions('decision', v5, 1.2), { qos: 1, properties: { messageExpiryInterval: 2 } });
  // a task stamped a century ahead must not ask for an expiry MQTT cannot carry (> 2^32 − 1 s)
  t.equal(publishOptions('decision', v5, 1e12).properties?.messageExpiryInterval, MAX_EXPIRY_SECONDS);
  t.equal(publishOptions('task', v5, Number.POSITIVE_INFINITY).properties?.messageExpiryInterval, MAX_EXPIRY_SECONDS);
  t.equal(publishOptions('task', v5, -5).properties?.messageExpiryInterval, 1, 'already late: the shortest expiry');
  t.same(publishOptions('decision', v4, 1.2), { qos: 1 }, 'MQTT 3.1.1 has no expiry');
  t.same(publishOptions('offload', v5, 1.2), { qos: 1 }, 'an offload never expires');
  t.same(publishOptions('edgeState'), { qos: 0, retain: true });
  t.same(publishOptions('desiredModel'), { qos: 1, retain: true });
});
