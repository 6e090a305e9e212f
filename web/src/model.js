// Pure data shaping for the charts (no DOM): JSON of vrpd's endpoints in, uPlot's aligned
// columns out. Vols stay decimals here; the charts format them as percent.

// Raw SVI total variance (Gatheral 2004, "A parsimonious arbitrage-free implied volatility
// parameterization", eq. 1): w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)).
export function svi_total_variance(svi, k) {
  const d = k - svi.m;
  return svi.a + svi.b * (svi.rho * d + Math.sqrt(d * d + svi.sigma * svi.sigma));
}

// Implied vol of the SVI slice at strike K: sqrt(w(ln(K/F)) / t); null where w <= 0.
export function svi_vol(svi, t, forward, strike) {
  if (!(t > 0) || !(forward > 0) || !(strike > 0)) return null;
  const w = svi_total_variance(svi, Math.log(strike / forward));
  return w > 0 ? Math.sqrt(w / t) : null;
}

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

// One expiry's smile: per strike the out-of-the-money quote (puts below the forward, calls at
// and above it; the other side when that one has no IV), bid/ask/mark IVs as points and the SVI
// fit on the quoted strikes plus a fine grid between them.
export function smile_columns(expiry, grid_points = 120) {
  const by_strike = new Map();
  for (const q of expiry.quotes || []) {
    if (!finite(q.strike)) continue;
    const want = q.strike < expiry.forward ? 'put' : 'call';
    const has_iv = finite(q.bid_iv) || finite(q.ask_iv) || finite(q.mark_iv);
    if (!has_iv) continue;
    const cur = by_strike.get(q.strike);
    if (!cur || (cur.type !== want && q.type === want)) by_strike.set(q.strike, q);
  }
  const strikes = [...by_strike.keys()].sort((a, b) => a - b);
  const xs = new Set(strikes);
  if (expiry.svi && strikes.length >= 2) {
    const lo = strikes[0];
    const hi = strikes[strikes.length - 1];
    for (let i = 0; i <= grid_points; ++i) xs.add(lo + ((hi - lo) * i) / grid_points);
  }
  const x = [...xs].sort((a, b) => a - b);
  const bid = [];
  const ask = [];
  const mark = [];
  const fit = [];
  let quoted = 0;
  for (const k of x) {
    const q = by_strike.get(k);
    const v = (f) => (q && finite(q[f]) ? q[f] : null);
    bid.push(v('bid_iv'));
    ask.push(v('ask_iv'));
    mark.push(v('mark_iv'));
    if (q) quoted += 1;
    fit.push(expiry.svi ? svi_vol(expiry.svi, expiry.t, expiry.forward, k) : null);
  }
  return { data: [x, bid, ask, mark, fit], quoted };
}

// Term structure from /v1/premium (and the HAR-RV term of /v1/forecast when there is one):
// x = tenor days; ATM IV, MFIV, forecast RV, HAR RV.
export function term_columns(premium, forecast) {
  const rows = (premium.tenors || []).filter((r) => r.available);
  const har = new Map();
  for (const p of (forecast && forecast.har_term) || []) har.set(p.days, p.vol);
  const x = [];
  const atm = [];
  const mfiv = [];
  const rv = [];
  const har_rv = [];
  for (const r of rows) {
    x.push(r.days);
    atm.push(finite(r.atm_iv) ? r.atm_iv : null);
    mfiv.push(finite(r.mfiv) ? r.mfiv : null);
    rv.push(finite(r.rv_forecast) ? r.rv_forecast : null);
    const h = har.get(r.days);
    har_rv.push(finite(h) ? h : null);
  }
  return [x, atm, mfiv, rv, har_rv];
}

export const bucket_keys = ['10p', '25p', 'atm', '25c', '10c'];
export const bucket_labels = ['10Δ put', '25Δ put', 'ATM', '25Δ call', '10Δ call'];

// The premium grid: one row per tenor, premium_vol per delta bucket (null when unavailable).
export function grid_rows(premium) {
  return (premium.tenors || []).map((r) => ({
    days: r.days,
    available: r.available,
    reason: r.reason || '',
    cells: bucket_keys.map((b) => {
      const c = r.buckets && r.buckets[b];
      return r.available && c && finite(c.premium_vol) ? c.premium_vol : null;
    }),
  }));
}

// History as uPlot columns: x = seconds; premium_vol, ATM IV, forecast RV.
export class history_series {
  constructor(limit = 20000) {
    this.limit = limit;
    this.clear();
  }

  clear() {
    this.ts = [];
    this.premium = [];
    this.atm = [];
    this.rv = [];
  }

  // Points in time order; a point not newer than the last one is skipped.
  add(ts_ms, premium_vol, atm_iv, rv_forecast) {
    const t = ts_ms / 1000;
    if (this.ts.length && t <= this.ts[this.ts.length - 1]) return false;
    this.ts.push(t);
    this.premium.push(finite(premium_vol) ? premium_vol : null);
    this.atm.push(finite(atm_iv) ? atm_iv : null);
    this.rv.push(finite(rv_forecast) ? rv_forecast : null);
    if (this.ts.length > this.limit) {
      const drop = this.ts.length - this.limit;
      for (const a of [this.ts, this.premium, this.atm, this.rv]) a.splice(0, drop);
    }
    return true;
  }

  columns() {
    return [this.ts, this.premium, this.atm, this.rv];
  }
}

// Diverging colour of a premium in vol units: blue below zero, red above, stronger with |v|/scale.
export function premium_colour(v, scale) {
  const s = Math.max(-1, Math.min(1, v / scale));
  const a = 0.18 + 0.72 * Math.abs(s);
  return s >= 0 ? `rgba(224, 85, 77, ${a.toFixed(3)})` : `rgba(64, 140, 235, ${a.toFixed(3)})`;
}
