const { Counter, Registry, register } = require('../../dist/index.js');

// Same names as counters.jest.js, in the same worker: that file's metrics are gone.
const requests = new Counter({
  name: 'http_requests_total',
  help: 'Requests.',
  labelNames: ['method', 'route', 'code'],
});

test("the global registry holds only this file's metrics", async () => {
  expect(register.getMetricsAsArray().map((m) => m.name)).toEqual(['http_requests_total']);
  expect(await register.metrics()).toBe('# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n');
});

test('a route that is undefined leaves the label out, as prom-client does', async () => {
  const req = { method: 'GET', route: undefined };
  requests.inc({ method: req.method, route: req.route?.path, code: 404 });
  requests.inc({ method: true, code: null });
  expect(await register.metrics()).toBe(
    [
      '# HELP http_requests_total Requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{method="GET",code="404"} 1',
      'http_requests_total{method="true",code="null"} 1',
      '',
    ].join('\n'),
  );
});

test('a strict registry refuses a partial label set with a clear error', () => {
  const strict = new Registry(undefined, { strict: true });
  const c = new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['queue'], registers: [strict] });
  expect(() => c.inc({})).toThrow(
    'Counter "jobs_total": label "queue" is missing (got {}; every label of [queue] is required)',
  );
});
