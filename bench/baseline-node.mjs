// The geo function on Node's `http` module: the same answer as api/geo.rs
// and the Rust baselines, with the start-up of a vercel_runtime function
// (bind 127.0.0.1:$VERCEL_DEV_PORT, print the line, /_vercel/ping, SIGTERM).
import http from 'node:http';

const port = Number.parseInt(process.env.VERCEL_DEV_PORT ?? '', 10) || 3000;

const OPTIONAL = [
  ['x-vercel-ip-country-region', 'countryRegion'],
  ['x-vercel-ip-latitude', 'latitude'],
  ['x-vercel-ip-longitude', 'longitude'],
  ['x-vercel-ip-postal-code', 'postalCode'],
  ['x-vercel-ip-timezone', 'timezone'],
  ['x-vercel-ip-continent', 'continent'],
];

function text(headers, name) {
  const v = headers[name];
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

function geo(headers) {
  const raw = text(headers, 'x-vercel-ip-country');
  const country = raw && /^[A-Za-z]{2}$/.test(raw) ? raw.toUpperCase() : undefined;
  const out = { country: country ?? 'US', timestamp: Date.now() };
  if (country) {
    out.flag = String.fromCodePoint(...[...country].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
  }
  const city = text(headers, 'x-vercel-ip-city');
  if (city !== undefined) {
    try {
      out.city = decodeURIComponent(city);
    } catch {
      out.city = city;
    }
  }
  for (const [header, field] of OPTIONAL) {
    const v = text(headers, header);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?', 1)[0];
  if (path === '/_vercel/ping') {
    res.writeHead(200, { 'content-length': 2 });
    res.end('OK');
    return;
  }
  if (path !== '/api/geo' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  const body = Buffer.from(JSON.stringify(geo(req.headers)));
  res.writeHead(200, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-length': body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.keepAliveTimeout = 60_000;

server.listen(port, '127.0.0.1', () => {
  console.log(`Dev server listening: ${port}`);
});

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
