// vrpd's HTTP and WebSocket API (ARCHITECTURE.md §5.2) as the page uses it: same origin, an
// optional bearer token, and a /v1/stream client that resubscribes after reconnecting with backoff.

export class api_error extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Bearer token from ?token= (kept for the tab in sessionStorage, then taken off the address bar
// so that it does not end up in bookmarks, screenshots or the Referer).
export function take_token() {
  const url = new URL(window.location.href);
  const given = url.searchParams.get('token');
  if (given !== null) {
    try {
      window.sessionStorage.setItem('vrp.token', given);
    } catch {
      // storage disabled: the token lives only as long as this page
    }
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return given;
  }
  try {
    return window.sessionStorage.getItem('vrp.token') || '';
  } catch {
    return '';
  }
}

export class http_client {
  constructor(token) {
    this.token = token;
  }

  headers() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  // JSON of a GET; a non-2xx answer becomes an api_error with the server's code and message.
  async json(path) {
    const res = await fetch(path, { headers: this.headers(), cache: 'no-store' });
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    if (!res.ok) {
      const err = body && body.error ? body.error : { code: 'http_' + res.status, message: text };
      throw new api_error(res.status, err.code, err.message);
    }
    if (body === null) throw new api_error(res.status, 'bad_json', `${path}: not JSON`);
    return body;
  }

  // /readyz answers 503 while waiting: a state to show, not an error.
  async ready() {
    const res = await fetch('/readyz', { headers: this.headers(), cache: 'no-store' });
    let body = {};
    try {
      body = await res.json();
    } catch {
      body = {};
    }
    return { ready: res.status === 200, waiting: body.waiting_for || [], status: res.status };
  }

  async metrics() {
    const res = await fetch('/metrics', { headers: this.headers(), cache: 'no-store' });
    if (!res.ok) throw new api_error(res.status, 'http_' + res.status, '/metrics failed');
    return parse_metrics(await res.text());
  }
}

// Prometheus text format 0.0.4, only what the page reads: name{labels} value.
export function parse_metrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2];
      }
    }
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

// The /v1/stream WebSocket: subscribes to `channels` after every (re)connect; reconnects with
// exponential backoff and jitter (0.5 s doubling to 15 s) while the page wants the stream.
export class stream_client {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers; // { frame(msg), state(name, detail), reply(msg) }
    this.channels = [];
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.connects = 0;
  }

  url() {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: vrpd also takes the token as access_token
    // (RFC 6750 §2.3) on the upgrade request.
    const q = this.token ? `?access_token=${encodeURIComponent(this.token)}` : '';
    return `${proto}//${window.location.host}/v1/stream${q}`;
  }

  set_channels(channels) {
    const old = this.channels;
    this.channels = channels.slice();
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const gone = old.filter((c) => !channels.includes(c));
    if (gone.length) this.send({ op: 'unsubscribe', channels: gone });
    const added = channels.filter((c) => !old.includes(c));
    if (added.length) this.send({ op: 'subscribe', channels: added });
  }

  start() {
    if (this.ws || this.timer) return;
    this.connect();
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  connect() {
    this.timer = null;
    this.handlers.state(this.connects === 0 ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.schedule(String(e));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.connects += 1;
      this.handlers.state('open', this.connects);
      if (this.channels.length) this.send({ op: 'subscribe', channels: this.channels });
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.channel !== undefined && msg.data !== undefined) {
        this.attempt = 0; // a working stream resets the backoff
        this.handlers.frame(msg);
      } else {
        this.handlers.reply(msg);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.schedule(ev.reason || `closed (${ev.code})`);
    };
    ws.onerror = () => {
      // onclose follows and schedules the reconnect
    };
  }

  schedule(reason) {
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.handlers.state('waiting', `${reason}; retry in ${(delay / 1000).toFixed(1)} s`);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
