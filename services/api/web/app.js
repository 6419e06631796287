// tilewatch incident page: plain ES module, no build step. The token stays in this tab's
// sessionStorage; every call sends it as a bearer token. Data is only ever inserted as text.
// The main list is the triage order: incidents, most severe first; an incident opens with its alerts.
const $ = (id) => document.getElementById(id);
const KEY = 'tilewatch.token';
let role = null;
// Roles that may acknowledge, mute, resolve and reopen (the API's `analyst` and above). Everyone else
// (viewers, or a role this page does not know) gets no action buttons; the server refuses them anyway.
const TRIAGE_ROLES = ['analyst', 'admin'];
const canTriage = () => TRIAGE_ROLES.includes(role);

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
    await loadIncidents();
  } catch (e) {
    showError(`Could not sign in: ${e.message}`);
    return;
  }
  // Links in notifications (Alertmanager's generatorURL, webhooks, Kafka, ECS event.url) open one
  // incident: ?incident=ti-…; an alert id (tw-…) opens its incident with that alert.
  const linked = new URLSearchParams(location.search).get('incident');
  if (linked && /^t[iw]-[0-9a-f]{20}$/.test(linked)) await openIncident(linked, { alertId: linked.startsWith('tw-') ? linked : null });
}

// The triage list: incidents most severe first, then by latest activity (the API's order), with the
// open incidents per severity on top. `more` appends the next page.
let nextCursor = null;
async function loadIncidents({ more = false } = {}) {
  const q = [['limit', '50']];
  for (const [key, id] of [['kind', 'filter-kind'], ['severity', 'filter-severity'], ['status', 'filter-status']]) if ($(id).value) q.push([key, $(id).value]);
  if (more && nextCursor) q.push(['cursor', nextCursor]);
  const page = await api(`/api/v1/incidents?${q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`);
  for (const b of document.querySelectorAll('#severity-counts button')) b.querySelector('.count').textContent = String(page.counts[b.dataset.severity] ?? 0);
  const list = $('incidents');
  if (!more) list.replaceChildren();
  for (const inc of page.items) list.append(incidentItem(inc));
  nextCursor = page.nextCursor;
  $('incidents-more').hidden = !nextCursor;
  $('incidents-empty').hidden = list.children.length > 0;
}

function incidentItem(inc) {
  const who = inc.addresses ? `${inc.addresses.slice(0, 3).join(', ')}${inc.addressCount > 3 ? ` +${inc.addressCount - 3}` : ''} · ` : '';
  const li = el('li', { 'data-incident-id': inc.id, 'data-severity': inc.severity, tabindex: '0' },
    el('span', { class: `sev sev-${inc.severity}` }, inc.severity), ' ',
    el('strong', {}, inc.kinds.join(' + ')), ` · ${inc.alertCount} alert${inc.alertCount === 1 ? '' : 's'} · ${inc.status} · `, who, `last seen ${when(inc.lastSeen)}`,
    el('p', { class: 'reasons' }, `${inc.id} · images: ${inc.imageIds.slice(0, 5).join(', ')}${inc.imageCount > 5 ? ` +${inc.imageCount - 5}` : ''}`));
  li.addEventListener('click', () => openIncident(inc.id));
  li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') void openIncident(inc.id); });
  return li;
}

async function openIncident(id, { alertId = null } = {}) {
  showError('');
  for (const x of document.querySelectorAll('#incidents li')) x.classList.toggle('selected', x.dataset.incidentId === id);
  try {
    const d = await api(`/api/v1/incidents/${encodeURIComponent(id)}`);
    const inc = d.incident;
    $('detail').hidden = false;
    $('incident-box').hidden = false;
    $('incident-box').dataset.incidentId = inc.id;
    $('incident-title').textContent = `Incident ${inc.id} · ${inc.severity} · ${inc.status}`;
    const s = inc.alertsByStatus;
    const facts = [['first detected', when(inc.firstDetected)], ['last seen', when(inc.lastSeen)],
      ['alerts', `${inc.alertCount} (${s.open} open, ${s.acknowledged} acknowledged, ${s.muted} muted, ${s.resolved} resolved)`],
      ['kinds', inc.kinds.join(', ')], ['images', inc.imageIds.join(', ')]];
    if (inc.addresses) facts.splice(2, 0, ['addresses', inc.addresses.join(', ')]);
    $('incident-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    $('incident-actions').replaceChildren(...(canTriage() ? [triageBar('incident', inc.id)] : []));
    $('incident-alerts').replaceChildren(...d.alerts.map(memberItem));
    // The most severe alert opens with its timeline and coverage (the API lists them oldest first),
    // unless an alert of the incident was asked for (the one just acted on).
    const rank = ['low', 'medium', 'high', 'critical'];
    const first = d.alerts.find((x) => x.alert.id === alertId) ?? [...d.alerts].sort((a, b) => rank.indexOf(b.alert.severity) - rank.indexOf(a.alert.severity))[0];
    if (first) await openAlert(first.alert.id);
  } catch (e) {
    showError(e.message);
  }
}

// One alert of an incident: its reasons, where its evidence is, and (analysts) the evidence archive.
function memberItem(d) {
  const a = d.alert;
  const ev = d.body && d.body.evidence;
  const li = el('li', { 'data-alert-id': a.id, tabindex: '0' },
    el('span', { class: `sev sev-${a.severity}` }, a.severity), ' ', el('strong', {}, a.kind), ` score ${a.score} · ${a.status} · `, a.client ? `${a.client.ip} · ` : '', when(a.detectedAt),
    el('ul', { class: 'reasons' }, ...d.reasons.map((r) => el('li', {}, r))));
  if (ev) li.append(el('p', { class: 'evidence' }, `evidence: ${ev.source} lines ${ev.firstLine}–${ev.lastLine}${ev.from ? ` (${when(ev.from)} … ${when(ev.to)})` : ''}`));
  if (role !== 'viewer') {
    const b = el('button', { type: 'button', class: 'export' }, 'Export evidence');
    b.addEventListener('click', (e) => { e.stopPropagation(); void exportEvidence(a.id).catch((err) => showError(err.message)); });
    li.append(b);
  }
  li.addEventListener('click', () => openAlert(a.id));
  li.addEventListener('keydown', (ev2) => { if (ev2.key === 'Enter') void openAlert(a.id); });
  return li;
}

let evidenceUrl = null;
async function exportEvidence(alertId) {
  const res = await fetch('/api/v1/evidence', {
    method: 'POST', cache: 'no-store', body: JSON.stringify({ alert: alertId }),
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
  });
  if (!res.ok) throw new Error(`evidence: ${res.status}`);
  const blob = await res.blob();
  // The previous archive's object URL is released when the next one is made.
  if (evidenceUrl) globalThis.URL.revokeObjectURL(evidenceUrl);
  evidenceUrl = globalThis.URL.createObjectURL(blob);
  const link = el('a', { href: evidenceUrl, download: `tilewatch-evidence-${alertId}.tar` });
  document.body.append(link);
  link.click();
  link.remove();
}

// Triage: acknowledge, mute (until a chosen expiry), resolve, reopen — one alert, or every alert of
// an incident. Only built for TRIAGE_ROLES. The request carries the token in the Authorization
// header, as every call does: no cookie is involved, so another site cannot make the browser send one.
const ACTIONS = [['ack', 'Acknowledge'], ['mute', 'Mute'], ['resolve', 'Resolve'], ['reopen', 'Reopen']];
const MUTE_FOR = [['1h', 3_600_000, '1 hour'], ['8h', 8 * 3_600_000, '8 hours'], ['24h', 86_400_000, '24 hours'], ['7d', 7 * 86_400_000, '7 days']];

function triageBar(scope, id) {
  const all = scope === 'incident' ? ' all' : '';
  const note = el('input', { class: 'note', name: 'note', maxlength: '2000', placeholder: 'note (optional)', 'aria-label': `note for the ${scope} action` });
  const muteFor = el('select', { class: 'mute-for', name: 'mute-for', 'aria-label': 'mute for' }, ...MUTE_FOR.map(([v, , label]) => el('option', { value: v }, label)));
  muteFor.value = '8h';
  const bar = el('div', { class: 'triage', 'data-scope': scope, 'data-id': id, role: 'group', 'aria-label': `${scope} actions` }, note);
  for (const [action, label] of ACTIONS) {
    const b = el('button', { type: 'button', 'data-action': action }, `${label}${all}`);
    b.addEventListener('click', (ev) => {
      ev.stopPropagation();
      void act(scope, id, action, bar).catch((e) => showError(e.message));
    });
    bar.append(b);
    if (action === 'mute') bar.append(el('label', { class: 'mute-label' }, 'for ', muteFor));
  }
  return bar;
}

async function act(scope, id, action, bar) {
  showError('');
  const body = {};
  const note = bar.querySelector('input.note').value.trim();
  if (note) body.note = note;
  if (action === 'mute') {
    const ms = MUTE_FOR.find(([v]) => v === bar.querySelector('select.mute-for').value)?.[1] ?? MUTE_FOR[1][1];
    body.until = new Date(Date.now() + ms).toISOString();
  }
  const buttons = [...bar.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  try {
    const res = await fetch(`/api/v1/${scope === 'alert' ? 'alerts' : 'incidents'}/${encodeURIComponent(id)}/${action}`, {
      method: 'POST', cache: 'no-store', body: JSON.stringify(body), headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
    });
    if (!res.ok) {
      let msg = `${res.status}`;
      try { const b = await res.json(); msg = `${b.error.code}: ${b.error.message}`; } catch { /* not JSON */ }
      showError(`${action}: ${msg}`);
      return;
    }
    const d = await res.json();
    const incidentId = scope === 'incident' ? d.incident.id : d.alert.incidentId;
    const alertId = scope === 'alert' ? id : $('detail').dataset.alertId;
    await loadIncidents();
    if (incidentId) await openIncident(incidentId, { alertId }); else await openAlert(id);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

async function openAlert(id) {
  showError('');
  for (const x of document.querySelectorAll('#incident-alerts > li')) x.classList.toggle('selected', x.dataset.alertId === id);
  try {
    const d = await api(`/api/v1/alerts/${encodeURIComponent(id)}`);
    const a = d.alert;
    $('detail').hidden = false;
    $('detail').dataset.alertId = a.id;
    $('detail-title').textContent = `${a.kind} · ${a.severity} · score ${a.score}`;
    const status = a.status === 'muted' && a.mutedUntil ? `muted until ${when(a.mutedUntil)}` : a.status;
    const facts = [['alert', a.id], ['incident', a.incidentId], ['status', status], ['first seen', when(a.firstSeen)], ['detected', when(a.detectedAt)], ['last seen', when(a.lastSeen)], ['images', a.imageIds.join(', ')]];
    if (a.client) facts.splice(2, 0, ['client', `${a.client.ip} (${a.client.subnet})`], ['user agent', a.client.userAgent]);
    $('detail-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, v)]));
    $('alert-actions').replaceChildren(...(canTriage() ? [triageBar('alert', a.id)] : []));
    $('detail-reasons').replaceChildren(...d.reasons.map((r) => el('li', {}, r)));
    const history = d.actions ?? [];
    $('history-box').hidden = history.length === 0;
    $('detail-history').replaceChildren(...[...history].reverse().map((x) => el('li', { 'data-action': x.action },
      `${when(x.at)} ${x.action}${x.muteUntil ? ` until ${when(x.muteUntil)}` : ''}${x.actor ? ` by ${x.actor}` : ''}${x.note ? ` — ${x.note}` : ''}`)));
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
  nextCursor = null;
  $('incidents').replaceChildren();
  for (const c of document.querySelectorAll('#severity-counts .count')) c.textContent = '–';
  $('incidents-more').hidden = true;
  $('incident-box').hidden = true;
  $('incident-title').textContent = '';
  $('incident-facts').replaceChildren();
  $('incident-actions').replaceChildren();
  $('incident-alerts').replaceChildren();
  $('alert-actions').replaceChildren();
  $('detail-history').replaceChildren();
  $('history-box').hidden = true;
  $('detail').hidden = true;
  $('detail-title').textContent = '';
  $('detail-facts').replaceChildren();
  $('detail-reasons').replaceChildren();
  clearPanes();
  $('whoami').textContent = 'enter a token';
});
const reload = () => void loadIncidents().catch((e) => showError(e.message));
for (const id of ['filter-kind', 'filter-severity', 'filter-status']) $(id).addEventListener('change', reload);
$('incident-filters').addEventListener('submit', (ev) => { ev.preventDefault(); reload(); });
$('incidents-more').addEventListener('click', () => void loadIncidents({ more: true }).catch((e) => showError(e.message)));
// A count selects its severity among the open incidents.
for (const b of document.querySelectorAll('#severity-counts button')) {
  b.addEventListener('click', () => {
    $('filter-severity').value = b.dataset.severity;
    $('filter-status').value = 'open';
    reload();
  });
}
$('lookup-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  showError('');
  $('incident-box').hidden = true;
  const ip = $('lookup-ip').value.trim();
  const image = $('lookup-image').value.trim();
  $('detail').hidden = false;
  $('detail-title').textContent = [ip, image].filter(Boolean).join(' · ');
  $('detail-facts').replaceChildren();
  $('alert-actions').replaceChildren();
  $('detail-reasons').replaceChildren();
  $('history-box').hidden = true;
  delete $('detail').dataset.alertId;
  const jobs = [];
  if (ip) jobs.push(showTimeline(ip)); else $('timeline-box').hidden = true;
  if (image) jobs.push(showExposure([image], ip || undefined)); else $('exposure-box').hidden = true;
  Promise.all(jobs).catch((e) => showError(e.message));
});
void start();
