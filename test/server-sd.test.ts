import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulAgent, FileSD, startHttpServer, startHttpServerInThread } from '../index';
import { ConsulDouble } from './consul-double';

// The servers with the real plugins: Consul (through the agent double, which runs the HTTP
// check against the server's /healthz like the agent does) and FileSD, registered once bound
// and removed by close().
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function waitFor(what: string, done: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('metrics servers with service discovery', () => {
  const agent = new ConsulDouble();
  let dir: string;
  beforeAll(async () => {
    await agent.start();
    dir = mkdtempSync(join(tmpdir(), 'promsd-server-sd-'));
  });
  afterAll(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('startHttpServer registers in Consul with a passing /healthz check; close() deregisters', async () => {
    const consul = new ConsulAgent({
      agentAddress: agent.url,
      name: 'shop-metrics',
      check: { type: 'http', interval: '1s' },
      logger: quiet,
      env: {},
    });
    const server = await startHttpServer({ addr: '127.0.0.1', serviceDiscovery: consul });
    const id = consul.serviceId as string;
    expect(id).toMatch(new RegExp(`^shop-metrics-.+-${server.socket.port}$`));
    expect(agent.services.get(id)).toMatchObject({
      Service: 'shop-metrics',
      Address: '127.0.0.1',
      Port: server.socket.port,
    });
    await waitFor('check passing', () => agent.checkStatus(`service:${id}`) === 'passing');
    expect(server.isRegistered).toBe(true);
    await server.close();
    expect(agent.services.has(id)).toBe(false);
    expect(server.isRegistered).toBe(false);
  });

  it('the threaded server registers with Consul and FileSD at once, and close() removes both', async () => {
    const consul = new ConsulAgent({
      agentAddress: agent.url,
      check: { type: 'http', interval: '1s' },
      logger: quiet,
      env: {},
    });
    const file = new FileSD({ dir, labels: { team: 'shop' } });
    const server = await startHttpServerInThread({
      addr: '127.0.0.1',
      path: '/prom',
      serviceDiscovery: [consul, file],
    });
    const id = consul.serviceId as string;
    await waitFor('check passing', () => agent.checkStatus(`service:${id}`) === 'passing');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const targetFile = join(dir, files[0] as string);
    expect(JSON.parse(readFileSync(targetFile, 'utf8'))).toEqual([
      {
        targets: [`127.0.0.1:${server.socket.port}`],
        labels: { __metrics_path__: '/prom', __scheme__: 'http', team: 'shop' },
      },
    ]);
    expect(server.isRegistered).toBe(true);
    await server.close();
    expect(agent.services.has(id)).toBe(false);
    expect(existsSync(targetFile)).toBe(false);
  });

  it('starts while the agent is down and registers once it is back', async () => {
    const down = new ConsulDouble();
    await down.start();
    await down.stop();
    const consul = new ConsulAgent({
      agentAddress: down.url,
      logger: quiet,
      env: {},
      retry: { initialDelay: '50ms', maxDelay: '200ms' },
    });
    const server = await startHttpServer({ addr: '127.0.0.1', serviceDiscovery: consul });
    expect(server.isRegistered).toBe(false);
    await down.start();
    await waitFor('registration', () => server.isRegistered);
    expect(down.services.has(consul.serviceId as string)).toBe(true);
    await server.close();
    expect(down.services.size).toBe(0);
    await down.stop();
  });
});
