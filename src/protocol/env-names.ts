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
