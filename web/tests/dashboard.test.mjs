// The dashboard in headless Chromium (Debian's /usr/bin/chromium through playwright-core) against
// vrpd on vrp-replayd playing the bundled recording (data/demo/deribit_2025-10-24), everything on
// 127.0.0.1 with free ports:
//   1. the page loads with no console errors, page errors or failed requests, and asks only its
//      own origin; the four charts render with data (canvas pixels drawn, point and cell counts
//      matching what the test reads itself from /v1/surface and /v1/premium); feed health shows;
//      stream frames keep arriving (seq increases); the underlying selector switches to ETH and
//      back; a screenshot is saved;
//   2. vrpd is stopped and started again on the same port: the page reconnects by itself;
//   3. a vrpd with a bearer token: the page opened with ?token= loads and streams.
// Environment: VRPD, VRP_REPLAYD, VRP_SOURCE_DIR, VRP_ARTIFACT_DIR (where the screenshot goes),
// CHROMIUM (default /usr/bin/chromium). Exit 77 (skipped) only when Chromium is absent.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SOURCE = process.env.VRP_SOURCE_DIR || path.resolve(here, '..', '..');
const ARTIFACTS = process.env.VRP_ARTIFACT_DIR || path.join(SOURCE, 'build', 'dashboard-artifacts');
const RECORDING = path.join(SOURCE, 'data', 'demo', 'deribit_2025-10-24.recording.jsonl');
const TOKEN = 'dash-board-token-7f3a';

if (!existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} not found (Debian package chromium; scripts/install-deps.sh installs it)`);
  process.exit(77);
}
for (const name of ['VRPD', 'VRP_REPLAYD']) {
  if (!process.env[name]) {
    console.error(`dashboard test: environment variable ${name} (path of the binary) is not set`);
    process.exit(2);
  }
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('dashboard test: playwright-core is not installed in web/node_modules; run ' +
    '`npm ci --prefix web` (scripts/install-deps.sh does): ' + e.message);
  process.exit(1);
}

let passed = 0;
const failures = [];
function check(ok, what, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`ok - ${what}`);
  } else {
    failures.push(what);
    console.log(`FAIL - ${what}${detail ? ': ' + detail : ''}`);
  }
  return ok;
}

const children = [];
function start(bin, args, what) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  proc.stderr_tail = () => stderr;
  const lines = createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not print its address in 30 s`)), 30000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve({ proc, address: JSON.parse(line).listening });
      } catch {
        reject(new Error(`${what}: unexpected first line '${line}'`));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before listening: ${stderr}`));
    });
  });
}

async function stop(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
  await exited;
  clearTimeout(t);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wait_ready(address, proc, timeout_s) {
  const deadline = Date.now() + timeout_s * 1000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`vrpd exited (${proc.exitCode}): ${proc.stderr_tail()}`);
    try {
      const headers = proc.token ? { Authorization: `Bearer ${proc.token}` } : {};
      const res = await fetch(`http://${address}/readyz`, { headers });
      if (res.status === 200) return;
    } catch {
      // not accepting yet
    }
    await sleep(250);
  }
  throw new Error(`vrpd at ${address} not ready within ${timeout_s} s`);
}

async function get_json(address, p, token) {
  const res = await fetch(`http://${address}${p}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status}`);
  return res.json();
}

const tmp = mkdtempSync(path.join(tmpdir(), 'vrp-dashboard-'));
// deploy/demo.toml with quieter logs; the address, the replay URL and the state dir come as flags.
const demo = readFileSync(path.join(SOURCE, 'deploy', 'demo.toml'), 'utf8')
  .replace(/^log_level = .*$/m, 'log_level = "warn"');
const config = path.join(tmp, 'vrpd.toml');
writeFileSync(config, demo);
const token_config = path.join(tmp, 'vrpd-token.toml');
writeFileSync(token_config, demo.replace(/^\[api\]$/m, `[api]\ntoken = "${TOKEN}"`));

function start_vrpd(replay, listen, state, cfg, token) {
  return start(process.env.VRPD, ['--config', cfg, '--listen', listen, '--deribit-url',
    `ws://${replay}/ws/api/v2`, '--state-dir', path.join(tmp, state)], 'vrpd').then((r) => {
    r.proc.token = token;
    return r;
  });
}

let browser = null;
let exit_code = 1;
try {
  // Paced and looping, so that updates keep coming for the whole test.
  const replay = await start(process.env.VRP_REPLAYD, ['--recording', RECORDING, '--listen', '127.0.0.1:0',
    '--speed', '20', '--max-gap-ms', '200', '--loop', '0', '--min-heartbeat-s', '1'], 'vrp-replayd');
  let vrpd = await start_vrpd(replay.address, '127.0.0.1:0', 'state', config, '');
  const secured = await start_vrpd(replay.address, '127.0.0.1:0', 'state-token', token_config, TOKEN);
  const address = vrpd.address;
  console.log(`# vrp-replayd ${replay.address}, vrpd ${address}, vrpd with token ${secured.address}`);
  const t0 = Date.now();
  await wait_ready(address, vrpd.proc, 300);
  console.log(`# vrpd ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  const page = await context.newPage();
  let phase = 'load';
  const console_errors = [];
  const page_errors = [];
  const failed_requests = [];
  const foreign_requests = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') console_errors.push(`[${phase}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => page_errors.push(`[${phase}] ${err.message}`));
  page.on('requestfailed', (req) => failed_requests.push(`[${phase}] ${req.url()} ${req.failure()?.errorText}`));
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.host !== address && u.host !== secured.address && u.protocol !== 'data:') foreign_requests.push(req.url());
  });

  // ---- 1. load, charts, live updates
  const res = await page.goto(`http://${address}/`);
  check(res.status() === 200, 'GET / answers 200', String(res.status()));
  check((res.headers()['content-security-policy'] || '').includes("default-src 'self'"), 'the page carries a CSP');
  await page.waitForSelector('#app[data-loaded="true"]', { timeout: 30000 });
  const counts = () => page.evaluate(() => ({
    smile: Number(document.getElementById('chart-smile').dataset.points),
    term: Number(document.getElementById('chart-term').dataset.points),
    grid: Number(document.getElementById('chart-grid').dataset.cells),
    history: Number(document.getElementById('chart-history').dataset.points),
    frames: Number(document.getElementById('app').dataset.frames),
    seq: Number(document.getElementById('app').dataset.seq),
    ws: document.getElementById('app').dataset.wsState,
    connects: Number(document.getElementById('app').dataset.connects),
    underlying: document.getElementById('app').dataset.underlying,
    expiry: document.getElementById('chart-smile').dataset.expiry,
  }));
  await page.waitForFunction(() => {
    const n = (id, k) => Number(document.getElementById(id).dataset[k]);
    return n('chart-smile', 'points') > 0 && n('chart-term', 'points') > 0 && n('chart-grid', 'cells') > 0 &&
      n('chart-history', 'points') > 0 && n('app', 'frames') > 0;
  }, null, { timeout: 30000 });
  const first = await counts();
  console.log(`# first render: ${JSON.stringify(first)}`);
  check(first.underlying === 'BTC', 'BTC is selected first', first.underlying);
  check(first.ws === 'open', 'the stream is open', first.ws);

  // Expected counts, read independently from the API.
  const surface = await get_json(address, '/v1/surface?underlying=BTC');
  const premium = await get_json(address, '/v1/premium?underlying=BTC');
  const expiry = surface.expiries.find((e) => e.expiry === first.expiry);
  check(Boolean(expiry), `the smile shows an expiry of /v1/surface (${first.expiry})`);
  if (expiry) {
    const strikes = new Set(expiry.quotes
      .filter((q) => [q.bid_iv, q.ask_iv, q.mark_iv].some((v) => typeof v === 'number'))
      .map((q) => q.strike));
    const shown = (await counts()).smile;
    // The surface may move on between the two reads: the same expiry's strike count, within a few.
    check(Math.abs(shown - strikes.size) <= Math.max(3, strikes.size * 0.1) && shown >= 5,
      `smile points match the quoted strikes (${shown} shown, ${strikes.size} in /v1/surface)`);
  }
  const cells = premium.tenors.reduce((n, r) => n + (r.available
    ? Object.values(r.buckets).filter((b) => typeof b.premium_vol === 'number').length : 0), 0);
  const shown_cells = (await counts()).grid;
  check(shown_cells === cells && cells > 0, `heat map cells match /v1/premium (${shown_cells} shown, ${cells} expected)`);
  const rows = await page.locator('#chart-grid tbody tr').count();
  check(rows === premium.tenors.length, `heat map has one row per tenor (${rows})`);
  const available = premium.tenors.filter((r) => r.available).length;
  check(first.term >= available, `term structure has the available tenors (${first.term} points, ${available} tenors)`);
  check(first.history >= 2, `history has points (${first.history})`);

  // Every chart has drawn something: count non-background pixels on its canvases.
  for (const id of ['chart-smile', 'chart-term', 'chart-history']) {
    const drawn = await page.evaluate((el_id) => {
      let n = 0;
      for (const c of document.querySelectorAll(`#${el_id} canvas`)) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n += 1;
      }
      return n;
    }, id);
    check(drawn > 2000, `${id} canvas is drawn (${drawn} pixels)`);
  }
  const coloured = await page.evaluate(() => [...document.querySelectorAll('#chart-grid td[data-value]')]
    .filter((td) => td.style.backgroundColor !== '').length);
  check(coloured === shown_cells, `every heat map cell is coloured (${coloured})`);

  // Feed health.
  const text = async (sel) => (await page.locator(sel).textContent()).trim();
  await page.waitForFunction(() => document.getElementById('h-quotes').textContent !== '…', null, { timeout: 15000 });
  check((await text('#h-ready')) === 'ready', 'health: ready', await text('#h-ready'));
  check((await text('#h-ws')) === 'live', 'health: stream live', await text('#h-ws'));
  check(/^up: deribit/.test(await text('#h-feed')), 'health: feed up', await text('#h-feed'));
  check(/^[0-9,]+(\.[0-9]+)?$/.test(await text('#h-index')), 'health: index price', await text('#h-index'));
  check(Number(await text('#h-quotes')) > 0, 'health: quotes usable', await text('#h-quotes'));
  check(/s ago$/.test(await text('#h-age')), 'health: last update age', await text('#h-age'));

  // Live updates: more frames with higher seq.
  await page.waitForFunction((f) => Number(document.getElementById('app').dataset.frames) >= f + 3,
    first.frames, { timeout: 60000 }).catch(() => {});
  const later = await counts();
  check(later.frames >= first.frames + 3 && later.seq > first.seq,
    `stream updates arrive (frames ${first.frames} -> ${later.frames}, seq ${first.seq} -> ${later.seq})`);

  // Underlyings from the server; switch to ETH and back.
  const options = await page.locator('#underlying option').allTextContents();
  check(options.includes('BTC') && options.includes('ETH'), `underlying selector lists the served ones (${options})`);
  await page.selectOption('#underlying', 'ETH');
  await page.waitForFunction(() => {
    const app = document.getElementById('app');
    return app.dataset.underlying === 'ETH' && Number(document.getElementById('chart-grid').dataset.cells) > 0;
  }, null, { timeout: 30000 });
  const eth_index = (await get_json(address, '/v1/premium?underlying=ETH')).index_price;
  await page.waitForFunction((p) => document.getElementById('h-index').textContent.replace(/,/g, '') ===
    String(Number(p.toFixed(2))), eth_index, { timeout: 15000 }).catch(() => {});
  check(Number((await text('#h-index')).replace(/,/g, '')) === Number(eth_index.toFixed(2)),
    `ETH selected: the index shows ETH's (${await text('#h-index')})`);
  await page.selectOption('#underlying', 'BTC');
  await page.waitForFunction(() => document.getElementById('app').dataset.underlying === 'BTC' &&
    Number(document.getElementById('chart-smile').dataset.points) > 0 &&
    Number(document.getElementById('chart-history').dataset.points) > 1, null, { timeout: 30000 });
  await sleep(500); // a last redraw

  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = path.join(ARTIFACTS, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`# screenshot: ${shot}`);

  check(page_errors.length === 0, 'no page errors', page_errors.join(' | '));
  check(console_errors.length === 0, 'no console errors', console_errors.join(' | '));
  check(failed_requests.length === 0, 'no failed requests', failed_requests.join(' | '));
  check(foreign_requests.length === 0, 'only same-origin requests', foreign_requests.join(' | '));

  // ---- 2. the page reconnects after vrpd restarts (on the same port)
  phase = 'restart';
  const before = await counts();
  await stop(vrpd.proc);
  await page.waitForFunction(() => document.getElementById('app').dataset.wsState !== 'open', null, { timeout: 15000 });
  check((await text('#h-ws')) === 'reconnecting' || (await counts()).ws !== 'open', 'the page notices the dropped stream');
  for (let attempt = 0; ; ++attempt) {
    try {
      vrpd = await start_vrpd(replay.address, address, 'state', config, '');
      break;
    } catch (e) {
      if (attempt >= 10) throw e;
      await sleep(500);
    }
  }
  await page.waitForFunction((b) => {
    const app = document.getElementById('app');
    return Number(app.dataset.connects) > b.connects && Number(app.dataset.frames) > b.frames + 1;
  }, before, { timeout: 120000 }).catch(() => {});
  const after = await counts();
  check(after.connects > before.connects && after.frames > before.frames + 1 && after.ws === 'open',
    `reconnected with backoff and frames resumed (connects ${before.connects} -> ${after.connects}, ` +
    `frames ${before.frames} -> ${after.frames})`);
  check(page_errors.length === 0, 'no page errors across the restart', page_errors.join(' | '));

  // ---- 3. a token-protected vrpd, the token given as ?token=
  phase = 'token';
  await wait_ready(secured.address, secured.proc, 300);
  const token_page = await context.newPage();
  const token_errors = [];
  token_page.on('console', (msg) => {
    if (msg.type() === 'error') token_errors.push(msg.text());
  });
  token_page.on('pageerror', (err) => token_errors.push(err.message));
  await token_page.goto(`http://${secured.address}/?token=${TOKEN}`);
  await token_page.waitForFunction(() => Number(document.getElementById('app').dataset.frames) > 0 &&
    Number(document.getElementById('chart-grid').dataset.cells) > 0 &&
    Number(document.getElementById('chart-history').dataset.points) > 0, null, { timeout: 30000 }).catch(() => {});
  const tok = await token_page.evaluate(() => ({
    frames: Number(document.getElementById('app').dataset.frames),
    cells: Number(document.getElementById('chart-grid').dataset.cells),
    url: window.location.href,
  }));
  check(tok.frames > 0 && tok.cells > 0, `with ?token= the page loads data and streams (frames ${tok.frames})`);
  check(!tok.url.includes(TOKEN), 'the token is taken off the address bar', tok.url);
  check(token_errors.length === 0, 'no console errors with a token', token_errors.join(' | '));

  exit_code = failures.length === 0 ? 0 : 1;
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
  console.log(`FAIL - ${e && e.stack ? e.stack : e}`);
  exit_code = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const p of children) await stop(p).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`dashboard: ${passed} passed, ${failures.length} failed`);
process.exit(exit_code);
