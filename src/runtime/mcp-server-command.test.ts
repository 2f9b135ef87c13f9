import { describe, expect, it } from 'vitest';
import { resolveMcpPackage } from './process/mcp-package.js';
import { buildMcpServerArgv, buildMcpServerConfig, MCP_SERVER_LIFECYCLE_ENV, mcpServerLifecycleArgs, POOL_CHROMIUM_ARGS } from './mcp-server-command.js';

const input = { cliPath: '/pkg/cli.js', port: 3001, chromiumPath: '/usr/bin/chromium', configPath: '/sb/mcp-config.json' };

describe('MCP server command', () => {
  it('binds 127.0.0.1, headless, isolated, with the given Chromium', () => {
    expect(buildMcpServerArgv(input)).toEqual([
      '/pkg/cli.js',
      '--config',
      '/sb/mcp-config.json',
      '--port',
      '3001',
      '--host',
      '127.0.0.1',
      '--headless',
      '--isolated',
      '--browser',
      'chromium',
      '--executable-path',
      '/usr/bin/chromium',
      '--idle-timeout',
      '0',
      '--caps',
      'devtools',
      '--no-webmcp',
    ]);
  });

  it('keeps sessions and browsers as long as the lease: no ping timeout, no idle timeout, page tools off unless asked', () => {
    expect(MCP_SERVER_LIFECYCLE_ENV).toEqual({ PLAYWRIGHT_MCP_PING_TIMEOUT_MS: '0' });
    expect(mcpServerLifecycleArgs()).toEqual(['--idle-timeout', '0', '--caps', 'devtools', '--no-webmcp']);
    expect(mcpServerLifecycleArgs({ webmcp: true })).toEqual(['--idle-timeout', '0', '--caps', 'devtools']);
    expect(buildMcpServerArgv({ ...input, webmcp: true })).not.toContain('--no-webmcp');
    // serverArgs come after the lifecycle flags, so a caller's own --idle-timeout wins (commander keeps the last).
    const argv = buildMcpServerArgv({ ...input, serverArgs: ['--idle-timeout', '1500'] });
    expect(argv.lastIndexOf('--idle-timeout')).toBeGreaterThan(argv.indexOf('--no-webmcp'));
  });

  it('lists --allowed-hosts when given (the guard forwards Host headers naming the pool port)', () => {
    const argv = buildMcpServerArgv({ ...input, port: 40001, allowedHosts: ['localhost:3001', '127.0.0.1:3001'], serverArgs: ['--x'] });
    expect(argv.slice(-8)).toEqual(['--allowed-hosts', 'localhost:3001,127.0.0.1:3001', '--idle-timeout', '0', '--caps', 'devtools', '--no-webmcp', '--x']);
  });

  it('passes the pool\'s Chromium switches through the config file, sandbox off by default', () => {
    const config = buildMcpServerConfig({ ...input, chromiumArgs: ['--lang=en-US'] }) as {
      browser: { launchOptions: { args: string[]; chromiumSandbox: boolean; executablePath: string } };
    };
    expect(config.browser.launchOptions.args).toEqual([...POOL_CHROMIUM_ARGS, '--lang=en-US']);
    expect(config.browser.launchOptions.chromiumSandbox).toBe(false);
    expect(config.browser.launchOptions.executablePath).toBe('/usr/bin/chromium');
    for (const flag of ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-gpu']) {
      expect(POOL_CHROMIUM_ARGS).toContain(flag);
    }
  });

  it('finds the installed @playwright/mcp cli.js', () => {
    const mcp = resolveMcpPackage();
    expect(mcp.cliPath).toMatch(/@playwright\/mcp\/cli\.js$/);
    expect(mcp.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
