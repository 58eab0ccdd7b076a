// A user's test that mocks Node's http module, as prom-client's users do (jest.mock or nock):
// promsd's Pushgateway goes through http.request, synchronously, with prom-client's options.
const mockRequest = jest.fn().mockReturnValue({ on: jest.fn(), end: jest.fn(), write: jest.fn() });
jest.mock('http', () => ({ ...jest.requireActual('http'), request: mockRequest }));

const { Counter, Pushgateway, Registry } = require('../../dist/index.js');

test('pushAdd calls the mocked http.request at once with the method, path and caller options', () => {
  const reg = new Registry();
  new Counter({ name: 'pushed_total', help: 'Pushed.', registers: [reg] }).inc();
  const gw = new Pushgateway('http://127.0.0.1:9091/base', { timeout: 10, auth: 'u:p' }, reg);
  gw.pushAdd({ jobName: 'nightly', groupings: { step: 'a b' } });
  expect(mockRequest).toHaveBeenCalledTimes(1);
  const options = mockRequest.mock.calls[0][0];
  expect([options.method, options.path, options.hostname, options.port, options.auth, options.timeout]).toEqual([
    'POST',
    '/base/metrics/job/nightly/step/a%20b',
    '127.0.0.1',
    '9091',
    'u:p',
    10,
  ]);
});

test('a call without jobName throws at once, as in prom-client', () => {
  const gw = new Pushgateway('http://127.0.0.1:9091', null, new Registry());
  expect(() => gw.delete({})).toThrow('Missing jobName parameter');
});
