// Helpers for the HTTP bench cases: a metrics server per library, and `hey` as the load
// generator (Debian package; bounded by request count and by time, loopback only).
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';

// promsd: its own server (in this thread, or in a worker thread).
// prom-client: what its users write — node:http calling `await register.metrics()`.
export async function startServer(libName, lib, { threaded = false } = {}) {
  if (libName === 'promsd') {
    const s = threaded
      ? await lib.startHttpServerInThread({ addr: '127.0.0.1' })
      : await lib.startHttpServer({ addr: '127.0.0.1' });
    return { url: s.url, close: () => s.close() };
  }
  const server = createServer(async (_req, res) => {
    try {
      const body = await lib.register.metrics();
      res.writeHead(200, { 'content-type': lib.register.contentType });
      res.end(body);
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/metrics`,
    close: () => new Promise((r) => server.close(r)),
  };
}

// Runs hey asynchronously (the server under test lives in this process) and parses its summary.
// Returns { rps, p50, p99 (ms), ok, total }.
export function hey(url, { seconds = 3, concurrency = 4, headers = [], gzip = true } = {}) {
  const args = ['-z', `${seconds}s`, '-c', String(concurrency), '-t', '10'];
  if (!gzip) args.push('-disable-compression');
  for (const h of headers) args.push('-H', h);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn('hey', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', (e) =>
      reject(e.code === 'ENOENT' ? new Error('hey is not on PATH (apt-get install -y hey)') : e),
    );
    child.on('close', () => {
      clearTimeout(timer);
      const num = (re) => {
        const m = re.exec(out);
        return m ? Number(m[1]) : NaN;
      };
      const ok = num(/\[200\]\s+(\d+) responses/);
      const total = [...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)].reduce((s, m) => s + Number(m[2]), 0);
      const r = {
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        p50: num(/50% in ([\d.]+) secs/) * 1000,
        p99: num(/99% in ([\d.]+) secs/) * 1000,
        ok,
        total,
      };
      if (!(r.rps > 0) || ok !== total) reject(new Error(`hey: ${ok}/${total} OK; output:\n${out.slice(0, 2000)}`));
      else resolve(r);
    });
  });
}

// Counter series spread over label values: `n` series, 2 labels.
export function counters(lib, n) {
  const c = new lib.Counter({ name: 'bench_http_requests_total', help: 'Requests.', labelNames: ['route', 'status'] });
  for (let i = 0; i < n; i++)
    c.inc({ route: `/api/v1/resource_${Math.floor(i / 5)}`, status: String(200 + (i % 5)) }, i + 1);
  return c;
}
