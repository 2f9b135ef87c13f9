import { describe, expect, it } from 'vitest';
import { mcpRequestRefusal } from './mcp-origin-rule.js';

describe('mcpRequestRefusal (Host / Origin rule in front of MCP servers)', () => {
  it('lets the pool\'s own Host through, with no Origin or a local one', () => {
    for (const host of ['localhost:3001', '127.0.0.1:3001', 'LOCALHOST:3001']) {
      expect(mcpRequestRefusal(host, undefined, 3001)).toBeUndefined();
      expect(mcpRequestRefusal(host, 'http://localhost:3001', 3001)).toBeUndefined();
      expect(mcpRequestRefusal(host, 'http://127.0.0.1:3001', 3001)).toBeUndefined();
    }
  });

  it('refuses a foreign, rebound, portless, wrong-port or missing Host, naming the Host rule', () => {
    for (const host of ['attacker.example:3001', 'rebind.attacker.example', 'localhost', '127.0.0.1', 'localhost:3002', '[::1]:3001', '0.0.0.0:3001', '', undefined]) {
      expect(mcpRequestRefusal(host, undefined, 3001)).toMatch(/^Host .* refused: .*localhost:3001 or 127\.0\.0\.1:3001/);
    }
  });

  it('refuses any other Origin even with the right Host, naming the Origin rule', () => {
    for (const origin of ['http://attacker.example', 'http://localhost:3002', 'https://localhost:3001', 'http://localhost', 'null', '', 'http://localhost:3001, http://attacker.example']) {
      expect(mcpRequestRefusal('localhost:3001', origin, 3001)).toMatch(/^Origin .* refused: .*http:\/\/localhost:3001 or http:\/\/127\.0\.0\.1:3001 or none/);
    }
  });
});
