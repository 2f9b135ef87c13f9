/** Environment variable naming a shard's output folder (absolute), read by shard.config.ts. */
export const SHARD_OUTPUT_DIR_ENV = 'SHARD_OUTPUT_DIR';
