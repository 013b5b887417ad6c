// The README's usage block, then the docs' command blocks, run as written, in order, in a fresh copy of
// the repository (issue #13): every command a newcomer types must work in a clean clone. Commands that
// serve until Ctrl-C run for a while and must still be serving, then stop; the ones marked "slow"
// (minutes of training or benchmarks) must start and run, and are stopped after a few seconds; the ones
// marked "not here" (a GPU, a download from outside npm) or "after the runs above" (hours of training
// first) are listed as skipped, with that reason. A broker is listening on 127.0.0.1:1883 for the docs
// that point at one.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startEmbeddedBroker } from '../../plant/brokers.ts';

const repo = resolve('.');

interface Step {
  readonly command: string;
  readonly note: string;
}

function stepsOf(block: string): Step[] {
  return block.split('\n').filter((l) => l.trim()).map((line) => {
    const at = line.search(/\s{2,}#\s/);
    return { command: (at < 0 ? line : line.slice(0, at)).trim(), note: at < 0 ? '' : line.slice(at).replace(/^\s+#\s*/, '') };
  });
}

/** The commands of the README's Usage block (a command, then `  # note`). */
export function usageSteps(readme: string): Step[] {
  return stepsOf(/## Usage[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '');
}

/** Every ```sh block of a document. */
export function docSteps(doc: string): Step[] {
  return [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => stepsOf(m[1] ?? ''));
}

/** The documents whose command blocks a newcomer follows after the README. */
const DOCS = ['docs/live.md', 'trainer/README.md'];

/** Serves until stopped: a plant without --duration, the daemons. */
const serves = (c: string) => ((/gmel up\b/.test(c) || c === 'npm start') && !/--duration/.test(c)) || /gmel (twin|edge|ied)\b/.test(c);

function run(cwd: string, step: Step, limitMs: number, stopAfterMs?: number, killAfterStopMs = Number.POSITIVE_INFINITY): Promise<{ code: number | null; out: string; runningAtStop: boolean }> {
  return new Promise((done) => {
    const child = spawn('sh', ['-c', step.command], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let runningAtStop = false;
    child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
    child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
    const killAll = (signal: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), signal);
      } catch {
        // already gone
      }
    };
    const stopper = stopAfterMs === undefined ? undefined : setTimeout(() => {
      runningAtStop = child.exitCode === null;
      killAll('SIGINT');
    }, stopAfterMs);
    const limit = setTimeout(() => killAll('SIGKILL'), stopAfterMs === undefined ? limitMs : Math.min(limitMs, stopAfterMs + killAfterStopMs));
    child.once('exit', (code) => {
      clearTimeout(limit);
      if (stopper) clearTimeout(stopper);
      done({ code, out, runningAtStop });
    });
  });
}

const files = spawnSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' });
// every command of the walkthrough in turn: minutes, beyond the per-file default of package.json
t.setTimeout(900_000);

t.test('the README usage block, as written, in a fresh copy', { timeout: 900_000, skip: files.status === 0 ? false : 'not a git checkout: the clean clone\'s files are unknown' }, async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'gmel-readme-'));
  for (const f of files.stdout.split('\0').filter(Boolean)) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    copyFileSync(join(repo, f), join(copy, f));
  }
  symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));
  const steps = usageSteps(readFileSync(join(copy, 'README.md'), 'utf8'));
  t.ok(steps.length >= 15, `${steps.length} commands in the usage block`);
  const docs = DOCS.flatMap((d) => docSteps(readFileSync(join(copy, d), 'utf8')));
  t.ok(docs.length >= 10, `${docs.length} commands in ${DOCS.join(', ')}`);
  // the docs point at a broker on the standard port: one is there (ours, or one already running)
  const broker = await startEmbeddedBroker(1883).catch(() => undefined);
  for (const step of [...steps, ...docs]) {
    const started = Date.now();
    if (/\bnot here\b|\bafter the runs above\b/.test(step.note)) {
      t.comment(`skipped: ${step.command} (${step.note})`);
      continue;
    }
    if (/\bslow\b/.test(step.note)) {
      // a slow command still running 3 s after Ctrl-C (a training between two episodes) is ended for good: it ran
      const r = await run(copy, step, 120_000, 8_000, 3_000);
      t.ok(r.runningAtStop || r.code === 0, `starts and runs (slow, stopped after 8 s): ${step.command}${r.runningAtStop || r.code === 0 ? '' : `\n${r.out.slice(-1500)}`}`);
    } else if (serves(step.command)) {
      const drift = /--on-drift/.test(step.command) && /gmel up/.test(step.command);
      const r = await run(copy, step, 240_000, drift ? 30_000 : 10_000);
      // (the drifted plant may be fine-tuning when stopped: it finishes that cycle first, up to ~1 min)
      t.ok(r.runningAtStop, `serves until stopped: ${step.command}${r.runningAtStop ? '' : `\n${r.out.slice(-1500)}`}`);
      // Ctrl-C reaches npx and the shell too (their exit codes say so); the plant's own handler prints its final line
      if (/gmel up\b/.test(step.command)) t.match(r.out, /final: .*decisions\/s over the run/, `stops cleanly on Ctrl-C with a final summary: ${step.command}`);
      if (drift) t.match(r.out, /DRIFT arrival probability/, 'the twin reports the drifted plant');
    } else {
      const r = await run(copy, step, 240_000);
      t.equal(r.code, 0, `${step.command}${r.code === 0 ? '' : `\n${r.out.slice(-1500)}`}`);
    }
    t.comment(`${((Date.now() - started) / 1000).toFixed(1)} s  ${step.command}`);
  }
  await broker?.close();
});
