const { Summary, Registry, collectDefaultMetrics } = require('../../dist/index.js');

beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') }));
afterEach(() => jest.useRealTimers());

test('summary quantiles follow fake timers: exact for one value, empty once the window passed', async () => {
  const reg = new Registry();
  const s = new Summary({
    name: 'job_seconds',
    help: 'Jobs.',
    percentiles: [0.5, 0.99],
    maxAgeSeconds: 60,
    ageBuckets: 2,
    registers: [reg],
  });
  s.observe(100);
  expect(await reg.metrics()).toBe(
    [
      '# HELP job_seconds Jobs.',
      '# TYPE job_seconds summary',
      'job_seconds{quantile="0.5"} 100',
      'job_seconds{quantile="0.99"} 100',
      'job_seconds_sum 100',
      'job_seconds_count 1',
      '',
    ].join('\n'),
  );
  s.observe(3);
  const [p50, p99] = (await s.get()).values.map((v) => v.value);
  expect(p50).toBe(3);
  expect(p99).toBe(3);
  jest.advanceTimersByTime(61_000);
  expect((await s.get()).values.map((v) => v.value)).toEqual([Number.NaN, Number.NaN, 103, 2]);
});

test('default metrics under fake timers scrape and never crash the worker', async () => {
  const reg = new Registry();
  collectDefaultMetrics({ register: reg });
  jest.advanceTimersByTime(10_000);
  const text = await reg.metrics();
  expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
  expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
});
