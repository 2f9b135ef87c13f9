import { API_PREFIX } from './coordinator-api.js';

/** Every path of the coordinator's API: the server's routes match these, the client calls them. */
export const API_PATHS = {
  info: `${API_PREFIX}/info`,
  /** POST: allocate (held until the grant). Per lease: see {@link leasePath}. */
  leases: `${API_PREFIX}/leases`,
  extensions: `${API_PREFIX}/extensions`,
  executions: `${API_PREFIX}/executions`,
  /** `?testId=` for one test's recommendation. */
  recommendation: `${API_PREFIX}/timeouts/recommendation`,
  status: `${API_PREFIX}/status`,
  analytics: `${API_PREFIX}/analytics`,
  audit: `${API_PREFIX}/audit`,
  /** For humans with curl: text, or JSON with `?format=json`. Outside the versioned API. */
  statusText: '/status',
  /** Prometheus text. Outside the versioned API, where scrapers look. */
  metrics: '/metrics',
} as const;

/** What can be done to one lease, each a path under it. `events` is a GET (server-sent events), the rest POSTs. */
export const LEASE_ACTIONS = ['renew', 'release', 'reset', 'trace', 'events'] as const;
export type LeaseAction = (typeof LEASE_ACTIONS)[number];

export function leasePath(leaseId: string, action: LeaseAction): string {
  return `${API_PATHS.leases}/${encodeURIComponent(leaseId)}/${action}`;
}
