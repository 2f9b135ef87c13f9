import { z } from 'zod';
import { parseOptions } from './parse-options.js';
import {
  cleanupConfigSchema,
  poolOptionsSchema,
  resourceConfigSchema,
  timeoutConfigObject,
  timeoutConfigSchema,
  type PoolOptions,
  type PoolOptionsInput,
  type ResourceConfig,
  type TimeoutConfig,
} from './schemas.js';

export interface ContainerSpec {
  id: string;
  name: string;
  port: number;
  memoryMB: number;
  cpuPercent: number;
}

/** Parsed, defaulted pool configuration, with the container list resolved. */
export interface PoolConfig extends Omit<PoolOptions, 'containerSpecs'> {
  containerSpecs: ContainerSpec[];
}

export function parsePoolOptions(input: PoolOptionsInput | undefined): PoolConfig {
  const options = parseOptions(poolOptionsSchema, input ?? {}, 'pool options');
  const { resources } = options;
  const specs: Array<{ id: string; name: string; port: number; memoryMB?: number; cpuPercent?: number }> = options.containerSpecs
    ? options.containerSpecs
    : Array.from({ length: options.containers }, (_, i) => ({
        id: `container-${i + 1}`,
        name: `${options.namePrefix}-${i + 1}`,
        port: options.basePort + i,
      }));
  return {
    ...options,
    containers: specs.length,
    containerSpecs: specs.map((s) => ({
      id: s.id,
      name: s.name,
      port: s.port,
      memoryMB: s.memoryMB ?? resources.maxMemoryPerContainerMB,
      cpuPercent: s.cpuPercent ?? resources.maxCpuPerContainerPercent,
    })),
  };
}

/** Merges a partial update into a resource config, validated the same way as at start. */
export function mergeResourceConfig(current: ResourceConfig, patch: unknown): ResourceConfig {
  const partial = parseOptions(updateSchema(resourceConfigSchema), patch, 'resource config update');
  return parseOptions(resourceConfigSchema, { ...current, ...stripUndefined(partial) }, 'resource config');
}

export function mergeTimeoutConfig(current: TimeoutConfig, patch: unknown): TimeoutConfig {
  const partial = parseOptions(updateSchema(timeoutConfigObject), patch, 'timeout config update');
  return parseOptions(timeoutConfigSchema, { ...current, ...stripUndefined(partial) }, 'timeout config');
}

export { cleanupConfigSchema };

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The same fields, all optional and without defaults, so an update never resets what it does not name. */
function updateSchema<Shape extends z.core.$ZodLooseShape>(schema: z.ZodObject<Shape>): z.ZodType<Record<string, unknown>> {
  const shape = Object.fromEntries(
    Object.entries(schema.shape).map(([key, field]) => {
      const inner = field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : (field as z.ZodType);
      return [key, inner.optional()];
    }),
  );
  return z.object(shape).strict();
}
