// The vrpd dashboard: smile per expiry, term structure against the forecast, the premium grid as
// a heat map, the premium history and feed health, loaded over HTTP and kept live from
// /v1/stream. The page exposes what it shows as data-* attributes (frames, seq, points per chart)
// for the headless browser test.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { api_error, http_client, stream_client, take_token } from './api.js';
import {
  bucket_labels,
  grid_rows,
  history_series,
  premium_colour,
  smile_columns,
  term_columns,
} from './model.js';

const $ = (id) => document.getElementById(id);
const app = $('app');

const colours = {
  axis: '#8a97a8',
  grid: '#223041',
  bid: '#4aa3ff',
  ask: '#ff6b6b',
  mark: '#c9d4e2',
  fit: '#ffb454',
  atm: '#4aa3ff',
  mfiv: '#b48cff',
  rv: '#3fb37f',
  har: '#9ad06c',
  premium: '#ffb454',
};

const pct = (v, digits = 1) => (v === null || v === undefined ? '—' : (v * 100).toFixed(digits) + '%');
const pct_axis = (u, vals) => vals.map((v) => (v === null ? '' : (v * 100).toFixed(0) + '%'));

function axis(extra = {}) {
  return {
    stroke: colours.axis,
    grid: { stroke: colours.grid, width: 1 },
    ticks: { stroke: colours.grid, width: 1 },
    ...extra,
  };
}

function points_series(label, colour) {
  return {
    label,
    stroke: colours[colour],
    fill: colours[colour],
    paths: () => null,
    points: { show: true, size: 6, stroke: colours[colour], fill: colours[colour] },
    value: (u, v) => pct(v),
  };
}

function line_series(label, colour, extra = {}) {
  return {
    label,
    stroke: colours[colour],
    width: 2,
    spanGaps: true,
    points: { show: false },
    value: (u, v) => pct(v),
    ...extra,
  };
}

// A uPlot chart that follows its container's width.
class chart {
  constructor(el, opts) {
    this.el = el;
    this.opts = opts;
    this.plot = null;
    this.height = 270;
    this.data = opts.series.map(() => []);
    new ResizeObserver(() => this.resize()).observe(el);
  }

  width() {
    return Math.max(200, Math.floor(this.el.clientWidth));
  }

  set(data, count) {
    this.data = data;
    if (!this.plot) {
      this.plot = new uPlot({ ...this.opts, width: this.width(), height: this.height }, data, this.el);
    } else {
      this.plot.setData(data);
    }
    this.el.dataset.points = String(count);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
  }
}

const smile_chart = new chart($('chart-smile'), {
  scales: { x: { time: false } },
  axes: [
    axis({ values: (u, vals) => vals.map((v) => (v >= 1000 ? v / 1000 + 'k' : String(v))) }),
    axis({ values: pct_axis, size: 50 }),
  ],
  series: [
    { label: 'strike', value: (u, v) => (v === null ? '—' : v.toFixed(0)) },
    points_series('bid IV', 'bid'),
    points_series('ask IV', 'ask'),
    points_series('mark IV', 'mark'),
    line_series('SVI fit', 'fit'),
  ],
});

const term_chart = new chart($('chart-term'), {
  scales: { x: { time: false, distr: 3, log: 10 } },
  axes: [
    axis({
      // One tick per tenor; log axes otherwise label only powers of ten.
      splits: (u) => u.data[0].slice(),
      filter: (u, splits) => splits,
      values: (u, vals) => vals.map((v) => (v === null ? '' : v + 'd')),
    }),
    axis({ values: pct_axis, size: 50 }),
  ],
  series: [
    { label: 'tenor', value: (u, v) => (v === null ? '—' : v + 'd') },
    line_series('ATM IV', 'atm', { points: { show: true, size: 6 } }),
    line_series('MFIV', 'mfiv', { points: { show: true, size: 6 } }),
    line_series('forecast RV', 'rv', { width: 3, points: { show: true, size: 6 } }),
    line_series('HAR RV', 'har', { dash: [6, 4] }),
  ],
});

const history_chart = new chart($('chart-history'), {
  scales: { x: { time: true } },
  axes: [axis(), axis({ values: pct_axis, size: 50 })],
  series: [
    {},
    line_series('premium (ATM IV − RV)', 'premium', { width: 2 }),
    line_series('ATM IV', 'atm', { width: 1 }),
    line_series('forecast RV', 'rv', { width: 1 }),
  ],
});

const state = {
  token: '',
  http: null,
  stream: null,
  underlyings: [],
  underlying: '',
  premium: null,
  surface: null,
  forecast: null,
  expiry: '',
  tenor: 0,
  history: new history_series(),
  history_loaded: false,
  frames: 0,
  seq: 0,
  gaps: 0,
  last_seq: new Map(),
  dirty: new Set(),
  render_timer: null,
  notices: new Map(),
};

function set_pill(el, text, cls) {
  el.textContent = text;
  el.className = 'pill' + (cls ? ' ' + cls : '');
}

function notice(key, text) {
  if (text) state.notices.set(key, text);
  else state.notices.delete(key);
  const el = $('notice');
  const all = [...state.notices.values()];
  el.hidden = all.length === 0;
  el.textContent = all.join(' · ');
}

function mark(...what) {
  for (const w of what) state.dirty.add(w);
  if (state.render_timer === null) {
    // Frames can arrive faster than charts are worth redrawing: at most ~6 redraws a second.
    state.render_timer = window.setTimeout(render, 150);
  }
}

function render() {
  state.render_timer = null;
  const dirty = state.dirty;
  state.dirty = new Set();
  if (dirty.has('smile')) render_smile();
  if (dirty.has('term')) render_term();
  if (dirty.has('grid')) render_grid();
  if (dirty.has('history')) render_history();
  if (dirty.has('health')) render_health();
}

function render_smile() {
  const s = state.surface;
  const select = $('expiry');
  const expiries = s ? (s.expiries || []).filter((e) => (e.quotes || []).length > 0) : [];
  const labels = expiries.map((e) => e.expiry);
  const current = [...select.options].map((o) => o.value);
  if (labels.join() !== current.join()) {
    select.replaceChildren(
      ...expiries.map((e) => {
        const o = document.createElement('option');
        o.value = e.expiry;
        o.textContent = `${e.expiry} (${(e.t * 365).toFixed(1)}d)`;
        return o;
      }),
    );
  }
  if (!labels.includes(state.expiry)) {
    // Default: the first expiry at least a week out, else the last one.
    const pick = expiries.find((e) => e.t * 365 >= 7) || expiries[expiries.length - 1];
    state.expiry = pick ? pick.expiry : '';
  }
  select.value = state.expiry;
  const e = expiries.find((x) => x.expiry === state.expiry);
  if (!e) {
    smile_chart.set([[], [], [], [], []], 0);
    $('smile-meta').textContent = 'no expiry with quotes yet';
    return;
  }
  const { data, quoted } = smile_columns(e);
  smile_chart.set(data, quoted);
  smile_chart.el.dataset.expiry = e.expiry;
  smile_chart.el.dataset.fitted = String(Boolean(e.svi));
  const fit = e.svi ? `SVI rmse ${pct(e.rmse_vol, 2)}` : `not fitted (${e.fit_status})`;
  $('smile-meta').textContent = `F ${e.forward.toFixed(2)} · ${quoted} strikes · ${fit}` +
    (e.butterfly_free === false ? ' · butterfly arbitrage' : '');
}

function render_term() {
  if (!state.premium) return;
  const data = term_columns(state.premium, state.forecast);
  const count = data[1].filter((v) => v !== null).length + data[3].filter((v) => v !== null).length;
  term_chart.set(data, count);
  const model = state.premium.model || (state.forecast && state.forecast.model) || 'no model';
  $('term-meta').textContent = `implied vs forecast realized (${model})`;
}

function render_grid() {
  const el = $('chart-grid');
  if (!state.premium) return;
  const rows = grid_rows(state.premium);
  let scale = 0.01;
  for (const r of rows) for (const c of r.cells) if (c !== null) scale = Math.max(scale, Math.abs(c));
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  head.appendChild(document.createElement('th'));
  for (const label of bucket_labels) {
    const th = document.createElement('th');
    th.textContent = label;
    head.appendChild(th);
  }
  const body = table.createTBody();
  let cells = 0;
  for (const r of rows) {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.className = 'row';
    th.textContent = `${r.days}d`;
    tr.appendChild(th);
    r.cells.forEach((v, i) => {
      const td = tr.insertCell();
      if (v === null) {
        td.className = 'na';
        td.textContent = '—';
        td.title = r.reason || 'unavailable';
      } else {
        td.textContent = (v * 100).toFixed(1);
        td.style.backgroundColor = premium_colour(v, scale);
        td.dataset.value = String(v);
        td.title = `${r.days}d ${bucket_labels[i]}: ${(v * 100).toFixed(2)} vol points`;
        cells += 1;
      }
    });
  }
  const legend = document.createElement('div');
  legend.className = 'scale';
  legend.append(
    Object.assign(document.createElement('span'), { textContent: `−${(scale * 100).toFixed(1)} (implied cheap)` }),
    Object.assign(document.createElement('span'), { textContent: '0' }),
    Object.assign(document.createElement('span'), { textContent: `+${(scale * 100).toFixed(1)} (implied rich)` }),
  );
  el.replaceChildren(table, legend);
  el.dataset.cells = String(cells);
}

function render_history() {
  const data = state.history.columns();
  const count = data[1].filter((v) => v !== null).length;
  history_chart.set(data, count);
  $('history-meta').textContent = `${state.tenor}d tenor · ${count} points`;
}

function render_health() {
  const p = state.premium;
  $('h-index').textContent = p && p.index_price ? p.index_price.toLocaleString('en-US', { maximumFractionDigits: 2 }) : '—';
  $('h-model').textContent = p && p.model ? p.model : '—';
  $('h-seq').textContent = String(state.seq);
  update_age();
}

function update_age() {
  const p = state.premium;
  const el = $('h-age');
  if (!p || !p.recv_ns) {
    el.textContent = '—';
    return;
  }
  const age_s = Math.max(0, (Date.now() - p.recv_ns / 1e6) / 1000);
  el.textContent = age_s < 120 ? `${age_s.toFixed(1)} s ago` : `${(age_s / 60).toFixed(0)} min ago`;
  el.className = age_s > 60 ? 'pill bad' : age_s > 10 ? 'pill warn' : '';
}

function fill_tenors() {
  const select = $('tenor');
  const days = state.premium ? (state.premium.tenors || []).map((r) => r.days) : [];
  if (days.join() !== [...select.options].map((o) => o.value).join()) {
    select.replaceChildren(
      ...days.map((d) => Object.assign(document.createElement('option'), { value: String(d), textContent: `${d}d` })),
    );
  }
  if (!days.includes(state.tenor)) state.tenor = days.includes(30) ? 30 : days[0] || 0;
  select.value = String(state.tenor);
}

function on_premium(p) {
  state.premium = p;
  fill_tenors();
  const row = (p.tenors || []).find((r) => r.days === state.tenor);
  if (state.history_loaded && row && row.available) {
    if (state.history.add(p.ts, row.premium_vol, row.atm_iv, row.rv_forecast)) mark('history');
  }
  mark('term', 'grid', 'health');
}

function on_frame(msg) {
  const dot = msg.channel.indexOf('.');
  const kind = msg.channel.slice(0, dot);
  const underlying = msg.channel.slice(dot + 1);
  if (underlying !== state.underlying) return; // a frame sent before our unsubscribe
  const last = state.last_seq.get(msg.channel);
  if (last !== undefined && msg.seq > last + 1) state.gaps += 1; // conflated updates
  state.last_seq.set(msg.channel, msg.seq);
  state.frames += 1;
  state.seq = Math.max(state.seq, msg.seq);
  app.dataset.frames = String(state.frames);
  app.dataset.seq = String(state.seq);
  app.dataset.gaps = String(state.gaps);
  if (kind === 'premium') on_premium(msg.data);
  else if (kind === 'surface') {
    state.surface = msg.data;
    mark('smile');
  } else if (kind === 'forecast') {
    state.forecast = msg.data;
    mark('term');
  }
  mark('health');
}

function on_stream_state(name, detail) {
  app.dataset.wsState = name;
  const el = $('h-ws');
  if (name === 'open') {
    app.dataset.connects = String(detail);
    set_pill(el, 'live', 'ok');
    el.title = '';
    notice('stream', '');
    if (detail > 1) load_history(); // fill what was missed while disconnected
  } else if (name === 'waiting') {
    set_pill(el, 'reconnecting', 'bad');
    el.title = detail;
    notice('stream', `stream disconnected: ${detail}`);
  } else {
    set_pill(el, name, 'warn');
  }
}

function on_stream_reply(msg) {
  if (msg.error) notice('stream-reply', `stream: ${msg.error.code}: ${msg.error.message}`);
}

async function load_history() {
  if (!state.tenor || !state.underlying) return;
  const u = state.underlying;
  const tenor = state.tenor;
  try {
    const h = await state.http.json(`/v1/history?underlying=${encodeURIComponent(u)}&tenor=${tenor}`);
    if (u !== state.underlying || tenor !== state.tenor) return;
    const fresh = new history_series();
    for (const p of h.points || []) fresh.add(p.ts, p.premium_vol, p.atm_iv, p.rv_forecast);
    // Keep live points newer than what the history returned.
    const old = state.history;
    for (let i = 0; i < old.ts.length; ++i) fresh.add(old.ts[i] * 1000, old.premium[i], old.atm[i], old.rv[i]);
    state.history = fresh;
    state.history_loaded = true;
    notice('history', '');
    mark('history');
  } catch (e) {
    notice('history', `history: ${e.message}`);
  }
}

async function load_snapshots() {
  const u = state.underlying;
  const q = `underlying=${encodeURIComponent(u)}`;
  const results = await Promise.allSettled([
    state.http.json(`/v1/premium?${q}`),
    state.http.json(`/v1/surface?${q}`),
    state.http.json(`/v1/forecast?${q}`),
  ]);
  if (u !== state.underlying) return;
  const [p, s, f] = results;
  // Stream frames may already have brought something newer.
  if (f.status === 'fulfilled' && !state.forecast) state.forecast = f.value;
  if (s.status === 'fulfilled' && !state.surface) state.surface = s.value;
  if (p.status === 'fulfilled' && (!state.premium || state.premium.seq <= p.value.seq)) on_premium(p.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    const e = failed.reason;
    notice('snapshot', e instanceof api_error && e.code === 'not_ready'
      ? `${u}: no snapshot yet (the feed is warming up); the stream fills the charts when it arrives`
      : `${u}: ${e.message}`);
  } else {
    notice('snapshot', '');
  }
  mark('smile', 'term', 'grid', 'health');
}

async function select_underlying(u) {
  state.underlying = u;
  app.dataset.underlying = u;
  state.premium = state.surface = state.forecast = null;
  state.expiry = '';
  state.history = new history_series();
  state.history_loaded = false;
  state.last_seq.clear();
  const url = new URL(window.location.href);
  url.searchParams.set('underlying', u);
  window.history.replaceState(null, '', url.pathname + url.search);
  state.stream.set_channels([`premium.${u}`, `surface.${u}`, `forecast.${u}`]);
  await load_snapshots();
  await load_history();
}

// The served underlyings, from the labels of vrp_underlying_complete in /metrics.
async function discover_underlyings() {
  try {
    const names = new Set();
    for (const m of await state.http.metrics()) {
      if (m.name === 'vrp_underlying_complete' && m.labels.underlying) names.add(m.labels.underlying);
    }
    if (names.size) return [...names];
  } catch (e) {
    notice('metrics', `metrics: ${e.message}`);
  }
  return ['BTC'];
}

async function poll_health() {
  try {
    const r = await state.http.ready();
    if (r.status === 401) set_pill($('h-ready'), 'unauthorized', 'bad');
    else if (r.ready) set_pill($('h-ready'), 'ready', 'ok');
    else set_pill($('h-ready'), r.waiting.length ? `waiting: ${r.waiting.join(', ')}` : 'not ready', 'warn');
  } catch {
    set_pill($('h-ready'), 'unreachable', 'bad');
  }
  try {
    const metrics = await state.http.metrics();
    const of = (name) => metrics.filter((m) => m.name === name);
    const usable = of('vrp_quotes_usable').find((m) => m.labels.underlying === state.underlying);
    $('h-quotes').textContent = usable ? String(usable.value) : '—';
    const feeds = of('vrp_feed_up');
    const up = feeds.filter((m) => m.value === 1).map((m) => m.labels.venue);
    const down = feeds.filter((m) => m.value !== 1).map((m) => m.labels.venue);
    if (!feeds.length) set_pill($('h-feed'), 'no feed', 'warn');
    else if (down.length) set_pill($('h-feed'), `down: ${down.join(', ')}`, 'bad');
    else set_pill($('h-feed'), `up: ${up.join(', ')}`, 'ok');
    notice('metrics', '');
  } catch (e) {
    notice('metrics', `metrics: ${e.message}`);
  }
}

async function main() {
  state.token = take_token();
  state.http = new http_client(state.token);
  state.stream = new stream_client(state.token, {
    frame: on_frame,
    state: on_stream_state,
    reply: on_stream_reply,
  });
  state.underlyings = await discover_underlyings();
  const select = $('underlying');
  select.replaceChildren(
    ...state.underlyings.map((u) => Object.assign(document.createElement('option'), { value: u, textContent: u })),
  );
  const wanted = new URL(window.location.href).searchParams.get('underlying');
  const first = state.underlyings.includes(wanted) ? wanted : state.underlyings[0];
  select.value = first;
  select.addEventListener('change', () => select_underlying(select.value));
  $('expiry').addEventListener('change', (ev) => {
    state.expiry = ev.target.value;
    mark('smile');
  });
  $('tenor').addEventListener('change', (ev) => {
    state.tenor = Number(ev.target.value);
    state.history = new history_series();
    state.history_loaded = false;
    load_history();
  });
  state.stream.start();
  await select_underlying(first);
  poll_health();
  window.setInterval(poll_health, 5000);
  window.setInterval(update_age, 1000);
  app.dataset.loaded = 'true';
}

main();
