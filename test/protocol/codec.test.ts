// The wire protocol: topics parse both ways; bad payloads are refused with a code, never a throw.
import t from 'tap';
import { decode, encode } from '../../protocol/codec.ts';
import { topics, parseTopic } from '../../protocol/topics.ts';
import { MAX_PAYLOAD_BYTES, type TaskAnnouncement } from '../../protocol/messages.ts';

const task: TaskAnnouncement = { v: 1, taskId: 'ied7-42', iedId: 7, sizeMbit: 12.5, density: 0.03, deadlineSeconds: 1.5, createdAt: 1_700_000_000_000 };

t.test('topics', async (t) => {
  t.same(parseTopic(topics.task(7)), { kind: 'task', id: '7' });
  t.same(parseTopic(topics.edgeState(3)), { kind: 'edgeState', id: '3' });
  t.same(parseTopic(topics.offload(2)), { kind: 'offload', id: '2' });
  t.same(parseTopic(topics.edgeResult(4, 2)), { kind: 'edgeResult', id: '4', server: '2' });
  t.equal(parseTopic('gmel/v1/ied/4/edge-result'), undefined, 'an edge result topic names its server');
  t.same(parseTopic(topics.status('ied', 'gw-1')), { kind: 'status', id: 'gw-1', deviceKind: 'ied' });
  t.same(parseTopic(topics.band(25)), { kind: 'band', id: '25' });
  t.equal(parseTopic('gmel/v2/ied/7/task'), undefined);
  t.equal(parseTopic('gmel/v1/ied/x/task'), undefined);
});

t.test('round trip', async (t) => {
  const r = decode(topics.task(7), encode('task', task));
  t.ok(r.ok);
  if (r.ok) t.same(r.message, task);
  t.throws(() => encode('task', { ...task, sizeMbit: -1 }), /refusing to publish an invalid task/);
});

t.test('bad input gets a code naming the problem', async (t) => {
  const cases: [string, string | Uint8Array, string, RegExp][] = [
    [topics.task(7), '{"v":1,', 'malformed-json', /JSON/],
    [topics.task(7), JSON.stringify({ ...task, sizeMbit: 'big' }), 'schema', /task \/sizeMbit: must be number/],
    [topics.task(7), JSON.stringify({ ...task, extra: 1 }), 'schema', /task \/extra: must NOT have additional properties/],
    [topics.task(7), JSON.stringify({ ...task, v: 2 }), 'schema', /\/v/],
    [topics.task(8), JSON.stringify(task), 'id-mismatch', /topic says 8, payload says 7/],
    [topics.band(3), JSON.stringify({ v: 1, gateway: 4, slot: 1, senders: [1] }), 'id-mismatch', /topic says 3, payload says 4/],
    [topics.task(7), 'x'.repeat(MAX_PAYLOAD_BYTES + 1), 'oversized', /bytes >/],
    ['gmel/v1/ied/7/unknown', JSON.stringify(task), 'unknown-topic', /unknown/],
    [topics.task(7), JSON.stringify({ ...task, taskId: 'has space' }), 'schema', /taskId/],
  ];
  for (const [topic, payload, code, detail] of cases) {
    const r = decode(topic, payload);
    t.equal(r.ok, false, code);
    if (!r.ok) {
      t.equal(r.code, code);
      t.match(r.detail, detail);
    }
  }
});

t.test('RecentIds forgets the oldest id first and stays bounded', async (t) => {
  const { RecentIds } = await import('../../protocol/recent-ids.ts');
  const ids = new RecentIds(3);
  t.ok(ids.add('a') && ids.add('b') && ids.add('c'));
  t.notOk(ids.add('b'), 'a duplicate is refused');
  t.ok(ids.add('d'), 'a new id evicts the oldest');
  t.ok(ids.add('a'), 'a was forgotten');
  t.notOk(ids.add('d'));
});
