/*
 * Environment variables through which globalSetup (in the runner process) hands the coordinator to the
 * workers and the reporter. Read and written only through these names.
 */

/** The coordinator's URL, e.g. `http://127.0.0.1:40123`. */
export const POOL_URL_ENV = 'CINNAMON_POOL_URL';
/** The run's bearer token: every coordinator call carries `Authorization: Bearer <token>`. */
export const POOL_TOKEN_ENV = 'CINNAMON_POOL_TOKEN';
/** The pool's queue limit (ms), so the fixtures' allocation fixture can wait a little longer than the pool. */
export const POOL_MAX_WAIT_ENV = 'CINNAMON_POOL_MAX_WAIT_MS';
/**
 * 'shared' when the run's members are a shared pool's (issue 11): the fixtures' appUrl then sends the members'
 * browsers, on other machines, to {@link POOL_APP_HOST_ENV}. Absent: the run keeps its own members.
 * (Not CINNAMON_POOL_MODE, the option's override: a runner that runs globalSetup again must not read it back.)
 */
export const POOL_RUN_MODE_ENV = 'CINNAMON_POOL_RUN_MODE';
/**
 * The run's `runGroup` (the CI build it is a shard of), for workers and the tests they run; absent: no group.
 * (Not CINNAMON_POOL_RUN_GROUP, the option's override, for the reason given at POOL_RUN_MODE_ENV.)
 */
export const POOL_RUN_GROUP_ENV = 'CINNAMON_POOL_RUN_RUN_GROUP';
/** Shared mode: the address of the shard's machine that loopback hosts in appUrl() become. */
export const POOL_APP_HOST_ENV = 'CINNAMON_POOL_RUN_APP_HOST';
/**
 * '0' turns off the pre-warmed sessions of the fixtures (issue 13: the next test's MCP session and browser
 * context are opened while a test runs). On by default; the bench sets it to compare.
 */
export const POOL_PREWARM_SESSIONS_ENV = 'CINNAMON_POOL_PREWARM_SESSIONS';
