// `gmel edge`, `gmel ied` and `gmel twin` as separate processes: they connect, serve /healthz and
// /metrics (the twin: its routes and the dashboard), and stop cleanly on SIGTERM.
import t from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startAedes, freePort } from '../helpers/brokers.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));

t.test('separate runtime processes', { timeout: 60_000 }, async (t) => {
  const broker = await startAedes();
  for (const args of [['edge', '--id', '2'], ['ied', '--ieds', '0-3']]) {
    const port = await freePort();
    const child = spawn(process.execPath, [bin, ...args, '--broker', broker.url, '--http-port', String(port), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let health: { status: number; body: Record<string, unknown> } | undefined;
    for (let k = 0; k < 100 && !health?.body.ok; k++) {
      await new Promise((r) => setTimeout(r, 150));
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        health = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      } catch {
        // not listening yet
      }
    }
    t.equal(health?.status, 200, `${args[0]}: /healthz 200`);
    t.equal(health?.body.connected, true, `${args[0]}: connected to the broker`);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.match(metrics, args[0] === 'edge' ? /gmel_edge_broker_connected 1/ : /gmel_ied_broker_connected 1/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    t.equal(code, 0, `${args[0]}: clean exit on SIGTERM`);
  }
  // the twin process: its drift report and the operator's dashboard
  const port = await freePort();
  const twin = spawn(process.execPath, [bin, 'twin', '--broker', broker.url, '--http-port', String(port), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let drift: Record<string, unknown> | undefined;
  for (let k = 0; k < 100 && !drift; k++) {
    await new Promise((r) => setTimeout(r, 150));
    drift = await fetch(`http://127.0.0.1:${port}/twin/drift`).then((r) => r.json() as Promise<Record<string, unknown>>, () => undefined);
  }
  t.equal(drift?.drift, false, 'twin: /twin/drift answers (nothing seen, no drift)');
  t.match(await (await fetch(`http://127.0.0.1:${port}/`)).text(), /Twin vs live/, 'twin: the dashboard page');
  const api = (await (await fetch(`http://127.0.0.1:${port}/api/dashboard`)).json()) as { kpi: unknown; twin: unknown };
  t.ok(api.kpi && api.twin, 'twin: /api/dashboard has KPIs and the twin verdict');
  const twinMetrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(twinMetrics, /^gmel_twin_drift 0$/m, 'twin: /metrics serves the drift statistics');
  twin.kill('SIGTERM');
  t.equal(await new Promise((r) => twin.once('exit', (c) => r(c))), 0, 'twin: clean exit on SIGTERM');
  await broker.close();
});
