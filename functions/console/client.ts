/** The console's styles. */
export const CONSOLE_CSS = `
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
main { padding: .5rem 1.2rem 2rem; }
h2 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
table { border-collapse: collapse; background: #fff; }
th, td { border-bottom: 1px solid #e3e6eb; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.text { max-width: 28rem; }
#status { color: #ffd479; }
.job { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: .4rem .6rem; margin-bottom: .6rem; }
.job .head { display: flex; gap: 1rem; font-size: 12px; color: #555; }
.job .head b { color: #1d2330; }
svg text { font-size: 11px; fill: #1d2330; }
rect.plan { fill: #9db4d6; } rect.queued { fill: #e5e7eb; } rect.waits { fill: #fde68a; }
rect.part { fill: #6aa56a; } rect.part.failed { fill: #d9534f; } rect.part.running, rect.part.pending { fill: #8fd18f; }
rect.part.cancelled { fill: #b0b0b0; } rect.synthesis { fill: #8e7cc3; }
button { cursor: pointer; }
.legend { font-size: 12px; color: #555; margin-bottom: .4rem; }
.legend i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; margin: 0 .3rem 0 .8rem; vertical-align: middle; }
`;

/** The console's script: reads the overview with the admin key, draws it, follows running jobs over SSE. */
export const CONSOLE_JS = `
const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const svg = ['svg', 'rect', 'text', 'g', 'line', 'title'].includes(tag);
  const n = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) n.setAttribute(k, String(v));
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return n;
};
const key = () => sessionStorage.getItem('aiproc-admin-key') || '';
const headers = () => (key() ? { authorization: 'Bearer ' + key() } : {});
const status = (t) => ($('#status').textContent = t);

async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { 'content-type': 'application/json', ...headers() } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const why = (body.error && body.error.message) || res.statusText;
    status(res.status === 403 ? '403: this page needs an admin key (' + why + ')' : res.status === 401 ? '401: ' + why : res.status + ': ' + why);
    throw new Error(res.status + ' ' + why);
  }
  return body;
}

const LANE = 20, LEFT = 130, WIDTH = 760;
function timeline(t) {
  const lanes = t.lanes, span = Math.max(t.span, 1);
  const x = (ms) => LEFT + (ms / span) * (WIDTH - LEFT - 10);
  const svg = el('svg', { width: WIDTH, height: lanes.length * LANE + 18, class: 'timeline', 'data-job': t.jobId });
  lanes.forEach((l, i) => svg.append(el('text', { x: 4, y: i * LANE + 14 }, l)));
  for (const b of t.bars) {
    const i = lanes.indexOf(b.lane);
    const w = Math.max(2, x(b.end) - x(b.start));
    const r = el('rect', { x: x(b.start), y: i * LANE + 3, width: w, height: LANE - 6, rx: 3, class: [b.kind, b.status || ''].join(' ').trim(), 'data-kind': b.kind, 'data-index': b.index }, el('title', {}, b.label + ' (' + ((b.end - b.start) / 1000).toFixed(2) + ' s)'));
    svg.append(r);
    if (b.kind === 'part' && w > 40) svg.append(el('text', { x: x(b.start) + 3, y: i * LANE + 14 }, b.label.slice(0, Math.floor(w / 6))));
  }
  svg.append(el('text', { x: WIDTH - 60, y: lanes.length * LANE + 14 }, (span / 1000).toFixed(2) + ' s'));
  return svg;
}

function renderJobs(jobs) {
  const box = $('#jobs');
  box.replaceChildren(...jobs.map((t) =>
    el('div', { class: 'job', 'data-job': t.jobId, 'data-status': t.status },
      el('div', { class: 'head' }, el('b', {}, t.status), el('span', {}, t.model), el('span', {}, t.principal), el('span', {}, t.jobId), el('span', {}, new Date(t.createdAt).toLocaleTimeString())),
      timeline(t))));
  if (!jobs.length) box.append('No jobs yet.');
}

function renderModels(models) {
  $('#models tbody').replaceChildren(...models.map((m) =>
    el('tr', { 'data-model': m.model }, el('td', {}, m.model), el('td', {}, m.running), el('td', {}, m.completed), el('td', {}, m.failed), el('td', {}, (m.errorRate * 100).toFixed(0) + ' %'))));
}

function renderRules(rules) {
  $('#rules tbody').replaceChildren(...rules.map((r) => {
    const act = r.active
      ? el('button', { 'data-action': 'retire', 'data-id': r.id }, 'Retire')
      : el('button', { 'data-action': 'approve', 'data-id': r.id }, 'Approve');
    act.addEventListener('click', async () => {
      act.disabled = true;
      try {
        await api('/v1/rules/' + encodeURIComponent(r.id) + (r.active ? '/retire' : '/activate'), { method: 'POST', body: '{}' });
        status((r.active ? 'retired ' : 'approved ') + r.ruleId + ' v' + r.version);
      } finally {
        refresh();
      }
    });
    return el('tr', { 'data-rule': r.id, 'data-active': r.active },
      el('td', {}, r.ruleId.slice(0, 8)), el('td', {}, r.version), el('td', {}, r.scope), el('td', {}, r.model), el('td', { class: 'text' }, r.text),
      el('td', {}, r.origin), el('td', {}, r.jobs), el('td', {}, r.ratings), el('td', {}, r.averageScore == null ? '–' : r.averageScore.toFixed(1)),
      el('td', {}, r.active ? 'active' : 'proposed'), el('td', {}, act));
  }));
}

const following = new Set();
/** Reads a job's event stream (fetch, so the key can go in a header) and refreshes on each event. */
async function follow(jobId) {
  if (following.has(jobId)) return;
  following.add(jobId);
  try {
    const res = await fetch('/v1/jobs/' + jobId + '/events', { headers: headers() });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      if (buf.includes('\\n\\n')) {
        buf = buf.slice(buf.lastIndexOf('\\n\\n') + 2);
        soon();
      }
    }
  } catch {}
  following.delete(jobId);
  soon();
}

let timer = null;
const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
let rendered = 0;
async function refresh() {
  try {
    const o = await api('/v1/console/overview');
    renderJobs(o.jobs);
    renderModels(o.models);
    renderRules(o.rules);
    document.body.dataset.rendered = String(++rendered);
    for (const j of o.jobs) if (!['completed', 'failed', 'cancelled'].includes(j.status)) follow(j.jobId);
    if (!$('#status').textContent.startsWith('approved') && !$('#status').textContent.startsWith('retired')) status('');
  } catch (err) {
    document.body.dataset.error = String(err.message || err);
  }
}

$('#key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('aiproc-admin-key', $('#key').value.trim());
  $('#key').value = '';
  refresh();
});
refresh();
// New jobs appear without a reload; running ones move with their event streams.
setInterval(refresh, 5000);
`;
