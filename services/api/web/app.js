// tilewatch incident page: plain ES module, no build step. The token stays in this tab's
// sessionStorage; every call sends it as a bearer token. Data is only ever inserted as text.
const $ = (id) => document.getElementById(id);
const KEY = 'tilewatch.token';
let role = null;

function token() { return sessionStorage.getItem(KEY); }

// Drops everything shown for the previous alert or token (hidden panes keep their text otherwise).
function clearPanes() {
  for (const id of ['timeline-caption', 'timeline-chart', 'exposure-tabs', 'exposure-caption', 'coverage-map']) $(id).replaceChildren();
  for (const id of ['timeline-images', 'exposure-clients']) $(id).tBodies[0].replaceChildren();
  $('timeline-box').hidden = true;
  $('exposure-box').hidden = true;
}

function showError(msg) {
  const el = $('error');
  el.textContent = msg;
  el.hidden = !msg;
}

async function api(path, { accept = 'application/json' } = {}) {
  // Answers hold personal data: never from or into the browser's HTTP cache (the server says no-store too).
  const res = await fetch(path, { headers: { authorization: `Bearer ${token()}`, accept }, cache: 'no-store' });
  if (!res.ok) {
    let msg = `${res.status}`;
    try { const b = await res.json(); msg = `${b.error.code}: ${b.error.message}`; } catch { /* not JSON */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return accept === 'application/json' ? res.json() : res.text();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
const pct = (f) => `${Math.round(f * 1000) / 10} %`;

async function start() {
  showError('');
  if (!token()) { $('whoami').textContent = 'enter a token'; return; }
  try {
    const me = await api('/api/v1/me');
    role = me.role;
    $('whoami').textContent = `${me.name} (${me.role})`;
    await loadAlerts();
  } catch (e) {
    showError(`Could not sign in: ${e.message}`);
  }
}

async function loadAlerts() {
  const list = $('alerts');
  list.replaceChildren();
  const { items } = await api('/api/v1/alerts?status=open&limit=100');
  $('alerts-empty').hidden = items.length > 0;
  for (const a of items) {
    const li = el('li', { 'data-alert-id': a.id, tabindex: '0' },
      el('span', { class: `sev sev-${a.severity}` }, a.severity), ' ',
      el('strong', {}, a.kind), ` score ${a.score} · `, a.client ? `${a.client.ip} · ` : '', when(a.detectedAt),
      el('p', { class: 'reasons' }, a.reasons));
    li.addEventListener('click', () => openAlert(a.id, li));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openAlert(a.id, li); });
    list.append(li);
  }
}

async function openAlert(id, li) {
  showError('');
  for (const x of document.querySelectorAll('#alerts li')) x.classList.toggle('selected', x === li);
  try {
    const d = await api(`/api/v1/alerts/${encodeURIComponent(id)}`);
    const a = d.alert;
    $('detail').hidden = false;
    $('detail-title').textContent = `${a.kind} · ${a.severity} · score ${a.score}`;
    const facts = [['alert', a.id], ['status', a.status], ['first seen', when(a.firstSeen)], ['detected', when(a.detectedAt)], ['last seen', when(a.lastSeen)], ['images', a.imageIds.join(', ')]];
    if (a.client) facts.splice(1, 0, ['client', `${a.client.ip} (${a.client.subnet})`], ['user agent', a.client.userAgent]);
    $('detail-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    $('detail-reasons').replaceChildren(...d.reasons.map((r) => el('li', {}, r)));
    clearPanes();
    if (role === 'viewer' || !a.client) return;
    await Promise.all([showTimeline(a.client.ip), showExposure(a.imageIds, a.client.ip)]);
  } catch (e) {
    showError(e.message);
  }
}

async function showTimeline(ip) {
  const t = await api(`/api/v1/clients/${encodeURIComponent(ip)}/timeline`);
  $('timeline-box').hidden = false;
  $('timeline-caption').textContent = `${t.ip}: ${t.totals.requests} requests, ${t.totals.images} images, ${when(t.from)} … ${when(t.to)} (buckets of ${t.bucketSeconds} s); user agents: ${t.totals.userAgents.join(' | ')}`;
  $('timeline-chart').replaceChildren(timelineChart(t.buckets));
  $('timeline-images').tBodies[0].replaceChildren(...t.images.map((i) => el('tr', {}, el('td', {}, i.imageId), el('td', {}, i.tiles), el('td', {}, i.cells), el('td', {}, when(i.firstSeen)), el('td', {}, when(i.lastSeen)), el('td', {}, i.maxScale))));
}

function timelineChart(buckets) {
  const NS = 'http://www.w3.org/2000/svg';
  const W = 640, H = 160, n = Math.max(1, buckets.length);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', W); svg.setAttribute('height', H); svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('aria-label', 'requests per bucket and cumulative revealed cells');
  const maxReq = Math.max(1, ...buckets.map((b) => b.requests));
  const maxCells = Math.max(1, ...buckets.map((b) => b.cumulativeCells));
  const bw = W / n;
  buckets.forEach((b, i) => {
    const r = document.createElementNS(NS, 'rect');
    const h = (b.requests / maxReq) * (H - 20);
    r.setAttribute('x', i * bw); r.setAttribute('y', H - h); r.setAttribute('width', Math.max(1, bw - 1)); r.setAttribute('height', h);
    r.setAttribute('fill', '#8ab');
    const title = document.createElementNS(NS, 'title');
    title.textContent = `${when(b.t)}: ${b.requests} requests, ${b.cumulativeCells} cells revealed`;
    r.append(title);
    svg.append(r);
  });
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', buckets.map((b, i) => `${i * bw + bw / 2},${H - (b.cumulativeCells / maxCells) * (H - 20)}`).join(' '));
  line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#c22'); line.setAttribute('stroke-width', '2');
  svg.append(line);
  return svg;
}

async function showExposure(imageIds, ip) {
  $('exposure-box').hidden = false;
  const tabs = $('exposure-tabs');
  tabs.replaceChildren(...imageIds.slice(0, 20).map((id, i) => {
    const b = el('button', { type: 'button', role: 'tab', 'aria-selected': i === 0 ? 'true' : 'false' }, id);
    b.addEventListener('click', () => {
      for (const x of tabs.children) x.setAttribute('aria-selected', x === b ? 'true' : 'false');
      void showImage(id, ip).catch((e) => showError(e.message));
    });
    return b;
  }));
  if (imageIds.length > 0) await showImage(imageIds[0], ip);
}

async function showImage(imageId, ip) {
  const e = await api(`/api/v1/images/exposure?image=${encodeURIComponent(imageId)}`);
  $('exposure-box').hidden = false;
  const size = e.size ? `${e.size.width}×${e.size.height}` : 'size unknown';
  $('exposure-caption').textContent = `${e.imageId} (${size}): ${e.clientCount} client(s); all together reconstructable at ${e.union.reconstructLongEdge} px long edge (≥ ${pct(e.minCoverage)} of a band)`;
  $('exposure-clients').tBodies[0].replaceChildren(...e.clients.map((c) => {
    const best = c.bands.reduce((a, b) => (b.coverage > (a?.coverage ?? -1) ? b : a), null);
    const since = c.bands.filter((b) => b.reachedAt && b.longEdge === c.reconstructLongEdge).map((b) => b.reachedAt)[0];
    return el('tr', {}, el('td', {}, c.ip), el('td', {}, c.requests), el('td', {}, best ? `${best.band} (${best.longEdge} px)` : '–'),
      el('td', {}, c.reconstructLongEdge), el('td', {}, best ? pct(best.coverage) : '–'), el('td', {}, when(since)));
  }));
  const who = ip ?? e.clients[0]?.ip;
  const box = $('coverage-map');
  box.replaceChildren();
  if (!who) return;
  const svgText = await api(`/api/v1/clients/${encodeURIComponent(who)}/coverage.svg?image=${encodeURIComponent(imageId)}`, { accept: 'image/svg+xml' });
  const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  if (doc.documentElement.nodeName === 'svg') box.append(document.importNode(doc.documentElement, true));
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const v = $('token').value.trim();
  if (v) sessionStorage.setItem(KEY, v);
  $('token').value = '';
  void start();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  role = null;
  $('alerts').replaceChildren();
  $('detail').hidden = true;
  $('detail-title').textContent = '';
  $('detail-facts').replaceChildren();
  $('detail-reasons').replaceChildren();
  clearPanes();
  $('whoami').textContent = 'enter a token';
});
$('lookup-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  showError('');
  const ip = $('lookup-ip').value.trim();
  const image = $('lookup-image').value.trim();
  $('detail').hidden = false;
  $('detail-title').textContent = [ip, image].filter(Boolean).join(' · ');
  $('detail-facts').replaceChildren();
  $('detail-reasons').replaceChildren();
  const jobs = [];
  if (ip) jobs.push(showTimeline(ip)); else $('timeline-box').hidden = true;
  if (image) jobs.push(showExposure([image], ip || undefined)); else $('exposure-box').hidden = true;
  Promise.all(jobs).catch((e) => showError(e.message));
});
void start();
