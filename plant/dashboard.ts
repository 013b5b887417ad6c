/**
 * The operator's dashboard: one page served by fastify (`/`), fed by `/api/dashboard` once a second.
 *
 * | panel            | source                                                        |
 * |------------------|---------------------------------------------------------------|
 * | live KPIs        | KpiMonitor (completion, latency p50/p99, drops, decisions/s)  |
 * | twin vs live     | TwinMirror's drift report: live p̂, task size, uplink ρ vs trained |
 * | devices          | every IED from the twin's mirror: online (its gateway's status),|
 * |                  | gateway, desired vs reported model version, last seen, tasks  |
 * | retraining       | the twin's last cycle: why, candidate vs incumbent, promotion, |
 * |                  | and its rollout (canary verdict) or local switch               |
 * | plots            | completion rate and latency p50/p99 over the last 10 minutes, |
 * |                  | with value and time axes and a legend                         |
 *
 * The plots are drawn by a few lines of SVG in the page itself (a note, as the brief asks): the page
 * must work on a plant network without a CDN, and a plotting library would triple its size.
 */
import type { FastifyInstance } from 'fastify';
import type { KpiMonitor } from './kpi.ts';
import type { TwinMirror } from '../twin/mirror.ts';
import type { RetrainCycle } from '../twin/retrainer.ts';

export interface DashboardSources {
  readonly kpi: KpiMonitor;
  readonly mirror: TwinMirror;
  /** the twin's latest retraining cycle (with its rollout), if a retrainer runs in this process */
  readonly lastCycle?: () => RetrainCycle | undefined;
  readonly title?: string;
}

interface Sample {
  readonly t: number;
  readonly completion: number;
  readonly p50: number;
  readonly p99: number;
}

export function registerDashboard(app: FastifyInstance, src: DashboardSources): { stop(): void } {
  const history: Sample[] = [];
  const timer = setInterval(() => {
    const k = src.kpi.snapshot();
    history.push({ t: Date.now(), completion: k.completionRate, p50: k.latencyP50, p99: k.latencyP99 });
    if (history.length > 600) history.shift();
  }, 1000);
  timer.unref();
  app.get('/api/dashboard', async () => {
    const now = Date.now();
    const devices = [...src.mirror.devices.entries()]
      .filter(([id]) => /^ied-\d+$/.test(id))
      .map(([id, d]) => ({ id, online: d.online, gateway: d.gateway ?? null, desired: d.desiredModel ?? null, reported: d.reportedModel ?? null, lastSeenSeconds: d.lastSeen > 0 ? (now - d.lastSeen) / 1000 : null, tasks: d.tasks, completed: d.completed, dropped: d.dropped }))
      .sort((a, b) => Number(a.id.slice(4)) - Number(b.id.slice(4)));
    return { at: Date.now(), kpi: src.kpi.snapshot(), twin: src.mirror.drift(), devices, edges: Object.fromEntries(src.mirror.edges), cycle: src.lastCycle?.() ?? null, history };
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page(src.title ?? 'GMEL edge')));
  return { stop: () => clearInterval(timer) };
}

/** the page's look: one small stylesheet, no external assets (a plant network has no CDN) */
const STYLE = `<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px}
.card h2{font-size:15px;margin:0 0 8px}
.kpi{font-size:24px;font-weight:600}
.drift{color:#b00020;font-weight:600}.ok{color:#1b7f3b;font-weight:600}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:2px 6px;text-align:left}
.mismatch{background:#fff3cd}
.wide{grid-column:span 2;overflow-x:auto}td{white-space:nowrap}
svg{width:100%;height:170px;background:#fff;font:9px system-ui,sans-serif}
svg text{fill:#444}
</style>`;

/** the page's behaviour: fetch /api/dashboard every second, fill the cards, draw the plots with axes */
const SCRIPT = `<script>
// plot area: x 40..330 (time), y 10..100 (value); axes, ticks and a legend drawn with the lines
const X0=40, X1=330, Y0=100, Y1=10;
function line(samples, value, max, color){
  if(samples.length<2) return '';
  const t0 = samples[0].t, t1 = samples[samples.length-1].t, span = Math.max(1, t1-t0);
  const xs = samples.map(s=> (X0+(X1-X0)*(s.t-t0)/span).toFixed(1)+','+(Y0-(Y0-Y1)*Math.min(1,value(s)/max)).toFixed(1));
  return '<polyline fill="none" stroke="'+color+'" stroke-width="1.5" points="'+xs.join(' ')+'"/>';
}
function axes(samples, max, format, legend){
  let s = '<line x1="'+X0+'" y1="'+Y0+'" x2="'+X1+'" y2="'+Y0+'" stroke="#888"/><line x1="'+X0+'" y1="'+Y0+'" x2="'+X0+'" y2="'+Y1+'" stroke="#888"/>';
  for (const f of [0, 0.5, 1]) {
    const y = (Y0-(Y0-Y1)*f).toFixed(1);
    s += '<line x1="'+(X0-3)+'" y1="'+y+'" x2="'+X1+'" y2="'+y+'" stroke="#eee"/><text class="ytick" x="'+(X0-5)+'" y="'+y+'" text-anchor="end" dominant-baseline="middle">'+format(max*f)+'</text>';
  }
  const span = samples.length>1 ? (samples[samples.length-1].t - samples[0].t)/1000 : 0;
  for (const f of [0, 0.5, 1]) {
    const x = (X0+(X1-X0)*f).toFixed(1), ago = span*(1-f);
    s += '<text class="xtick" x="'+x+'" y="'+(Y0+12)+'" text-anchor="middle">'+(ago<0.5?'now':'−'+(ago>=120?(ago/60).toFixed(1)+' min':ago.toFixed(0)+' s'))+'</text>';
  }
  s += '<text x="'+((X0+X1)/2)+'" y="'+(Y0+25)+'" text-anchor="middle">time</text>';
  legend.forEach((l,k)=>{ s += '<line x1="'+(X0+8+k*70)+'" y1="4" x2="'+(X0+22+k*70)+'" y2="4" stroke="'+l[1]+'" stroke-width="2"/><text class="legend" x="'+(X0+25+k*70)+'" y="4" dominant-baseline="middle">'+l[0]+'</text>'; });
  return s;
}
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
async function refresh(){
  try{
    const d = await (await fetch('/api/dashboard')).json();
    const k = d.kpi;
    document.getElementById('completion').textContent = (100*k.completionRate).toFixed(1)+' %';
    document.getElementById('p50').textContent = k.latencyP50.toFixed(3);
    document.getElementById('p99').textContent = k.latencyP99.toFixed(3);
    document.getElementById('drops').textContent = k.dropped.local+' / '+k.dropped.uplink+' / '+k.dropped.edge;
    document.getElementById('dps').textContent = k.decisionsLastSecond;
    const t = d.twin;
    document.getElementById('twin').innerHTML = (t.drift?'<span class="drift">DRIFT</span> ':'<span class="ok">no drift</span> ')
      + 'arrival p&#770; '+t.arrivalProbability.estimate.toFixed(3)+' vs trained '+t.arrivalProbability.scenario
      + ' (z '+t.arrivalProbability.z.toFixed(1)+'); mean size '+t.meanSizeMbit.estimate.toFixed(1)+' vs '+t.meanSizeMbit.scenario+' Mbit'
      + '; uplinks at '+(t.uplink.fleet.samples?(100*t.uplink.fleet.ratio).toFixed(0)+'% of the scenario&#39;s rate ('+t.uplink.fleet.samples+' uploads)':'–')
      + (t.reasons.length?'<br>'+t.reasons.map(esc).join('<br>'):'') + (t.advisories.length?'<br><i>'+t.advisories.map(esc).join('<br>')+'</i>':'') + '<br>lag '+(isFinite(t.lagMs)?t.lagMs+' ms':'–');
    const c = d.cycle;
    if(c) document.getElementById('rollout').innerHTML = esc(c.at)+': '+esc(c.reason)
      + '<br>candidate '+(100*c.candidate).toFixed(1)+' % vs incumbent '+(100*c.incumbent).toFixed(1)+' % on the recalibrated simulator: '
      + (c.promoted?'promoted '+esc(c.exported?c.exported.version:''):'kept the incumbent')
      + (c.rollout?'<br>rollout <b>'+esc(c.rollout.outcome)+'</b>: '+esc(c.rollout.reason):c.appliedLocally?'<br>switched in this process':'');
    document.getElementById('models').innerHTML = d.devices.map(v=>'<tr class="'+(v.desired&&v.desired!==v.reported?'mismatch':'')+'"><td>'+esc(v.id)+'</td><td>'+(v.online?'yes':'no')+'</td><td>'+esc(v.gateway??'–')+'</td><td>'+esc(v.desired??'–')+'</td><td>'+esc(v.reported??'–')+'</td><td>'+(v.lastSeenSeconds===null?'–':v.lastSeenSeconds.toFixed(1)+' s ago')+'</td><td>'+v.tasks+'</td></tr>').join('');
    const h = d.history;
    document.getElementById('plot-completion').innerHTML = axes(h, 1, (v)=>(100*v).toFixed(0)+' %', [['completion','#1f77b4']]) + line(h, s=>s.completion, 1, '#1f77b4');
    const maxL = Math.max(0.1,...h.map(s=>s.p99));
    document.getElementById('plot-latency').innerHTML = axes(h, maxL, (v)=>v.toFixed(2)+' s', [['p50','#2ca02c'],['p99','#d62728']]) + line(h, s=>s.p50, maxL, '#2ca02c') + line(h, s=>s.p99, maxL, '#d62728');
    document.body.dataset.updated = String(d.at);
  }catch(e){ document.body.dataset.error = String(e); }
}
refresh(); setInterval(refresh, 1000);
</script>`;

function page(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
${STYLE}</head>
<body>
<h1>${title} — live plant</h1>
<div class="grid">
  <div class="card"><h2>Live KPIs</h2>
    <div>completion <span id="completion" class="kpi">–</span></div>
    <div>latency p50 <span id="p50">–</span> s, p99 <span id="p99">–</span> s</div>
    <div>drops local/uplink/edge <span id="drops">–</span></div>
    <div>decisions/s <span id="dps">–</span></div></div>
  <div class="card"><h2>Twin vs live</h2><div id="twin">–</div></div>
  <div class="card"><h2>Retraining and rollout</h2><div id="rollout">no retraining cycle yet</div></div>
  <div class="card"><h2>Completion rate (% of announced tasks)</h2><svg id="plot-completion" viewBox="0 0 340 130"></svg></div>
  <div class="card"><h2>Latency of completed tasks (s)</h2><svg id="plot-latency" viewBox="0 0 340 130"></svg></div>
  <div class="card wide"><h2>Devices</h2><table><thead><tr><th>IED</th><th>online</th><th>gateway</th><th>desired model</th><th>reported model</th><th>last seen</th><th>tasks</th></tr></thead><tbody id="models"></tbody></table></div>
</div>
${SCRIPT}</body></html>`;
}
