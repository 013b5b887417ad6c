// Logs an operator can read (issue #13): human-readable on a terminal or when asked, JSON lines when
// piped or asked, no colours under NO_COLOR.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readableLogs } from '../../protocol/logger.ts';
import { freePort } from '../helpers/brokers.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));

t.test('the format follows the terminal unless told', async (t) => {
  t.equal(readableLogs('auto', true), true, 'a terminal: readable');
  t.equal(readableLogs('auto', false), false, 'piped: JSON');
  t.equal(readableLogs('json', true), false);
  t.equal(readableLogs('pretty', false), true);
});

/** The first stderr line of `gmel edge` waiting for a broker that is not there. */
async function firstLogLine(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = spawn(process.execPath, [bin, 'edge', '--id', '1', '--broker', `mqtt://127.0.0.1:${await freePort()}`, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  for (let k = 0; k < 100 && !err.includes('\n'); k++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  return err.split('\n')[0] ?? '';
}

t.test('piped: one JSON object a line', { timeout: 30_000 }, async (t) => {
  const line = await firstLogLine([]);
  const parsed = JSON.parse(line) as { level: number; msg: string };
  t.equal(parsed.level, 40, 'a warning');
  t.match(parsed.msg, /retrying with backoff/);
});

t.test('--log-format pretty: a readable line, without colours under NO_COLOR', { timeout: 30_000 }, async (t) => {
  const line = await firstLogLine(['--log-format', 'pretty'], { NO_COLOR: '1' });
  t.throws(() => JSON.parse(line), 'not JSON');
  t.match(line, /WARN.*retrying with backoff/);
  t.notMatch(line, /\x1b\[/, 'no ANSI escapes');
});
