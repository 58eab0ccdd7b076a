import { expect, it } from 'vitest';
import { Counter, Summary, register } from '../../index';

it('metrics work in a vm context: counters, summaries and the global registry', async () => {
  expect(SharedArrayBuffer).not.toBe(undefined);
  const c = new Counter({ name: 'vm_requests_total', help: 'Requests.', labelNames: ['code'] });
  c.inc({ code: 200 }, 2);
  const s = new Summary({ name: 'vm_seconds', help: 'Seconds.', percentiles: [0.5] });
  s.observe(4);
  expect(await register.metrics()).toBe(
    [
      '# HELP vm_requests_total Requests.',
      '# TYPE vm_requests_total counter',
      'vm_requests_total{code="200"} 2',
      '',
      '# HELP vm_seconds Seconds.',
      '# TYPE vm_seconds summary',
      'vm_seconds{quantile="0.5"} 4',
      'vm_seconds_sum 4',
      'vm_seconds_count 1',
      '',
    ].join('\n'),
  );
});
