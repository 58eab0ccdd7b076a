const { Counter, Gauge, Histogram, register } = require('../../dist/index.js');

// Every test file gets a fresh copy of promsd in its own vm context: the names below are
// registered again by labels.jest.js in the same worker process.
const requests = new Counter({
  name: 'http_requests_total',
  help: 'Requests.',
  labelNames: ['method', 'route', 'code'],
});
const inflight = new Gauge({ name: 'inflight_requests', help: 'In flight.' });
const latency = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'Latency.',
  labelNames: ['route'],
  buckets: [0.1, 1],
});

afterEach(() => register.resetMetrics());

test('a counter incremented in a handler is exposed with its labels in call order', async () => {
  requests.inc({ route: '/users', method: 'GET', code: 200 });
  requests.inc({ route: '/users', method: 'GET', code: 200 }, 2);
  expect(await register.metrics()).toBe(
    [
      '# HELP http_requests_total Requests.',
      '# TYPE http_requests_total counter',
      'http_requests_total{route="/users",method="GET",code="200"} 3',
      '',
      '# HELP inflight_requests In flight.',
      '# TYPE inflight_requests gauge',
      'inflight_requests 0',
      '',
      '# HELP http_request_duration_seconds Latency.',
      '# TYPE http_request_duration_seconds histogram',
      '',
    ].join('\n'),
  );
});

test('resetMetrics between tests starts every metric from zero', async () => {
  inflight.inc(4);
  inflight.dec();
  latency.observe({ route: '/a' }, 0.5);
  const json = await register.getMetricsAsJSON();
  expect(json.map((m) => m.name)).toEqual([
    'http_requests_total',
    'inflight_requests',
    'http_request_duration_seconds',
  ]);
  expect(json[0].values).toEqual([]);
  expect(json[1].values).toEqual([{ value: 3, labels: {} }]);
  expect(json[2].values.map((v) => [v.metricName, v.labels, v.value])).toEqual([
    ['http_request_duration_seconds_bucket', { le: 0.1, route: '/a' }, 0],
    ['http_request_duration_seconds_bucket', { le: 1, route: '/a' }, 1],
    ['http_request_duration_seconds_bucket', { le: '+Inf', route: '/a' }, 1],
    ['http_request_duration_seconds_sum', { route: '/a' }, 0.5],
    ['http_request_duration_seconds_count', { route: '/a' }, 1],
  ]);
});

test('a histogram timer observes the elapsed time', async () => {
  const end = latency.startTimer({ route: '/slow' });
  const seconds = end();
  expect(seconds).toBeGreaterThanOrEqual(0);
  const sum = (await latency.get()).values.find((v) => v.metricName === 'http_request_duration_seconds_sum');
  expect(sum.value).toBe(seconds);
});
