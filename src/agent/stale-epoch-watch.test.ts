import { describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { watchStaleEpoch } from './stale-epoch-watch.js';

describe('watchStaleEpoch', () => {
  it('tells of STALE_EPOCH rejections and passes every result and error through unchanged', async () => {
    const store = new MemoryPoolStore();
    const heard: string[] = [];
    const watched = watchStaleEpoch(store, (m) => heard.push(m));
    expect(await watched.listContainers()).toEqual([]);
    (store as unknown as { listLeases: () => Promise<never> }).listLeases = () => Promise.reject(new PoolError('STALE_EPOCH', 'epoch 1 of h1 is not current'));
    await expect(watched.listLeases()).rejects.toMatchObject({ code: 'STALE_EPOCH' });
    await expect(watched.getLease('nope')).rejects.toMatchObject({ code: 'UNKNOWN_LEASE' });
    expect(heard).toEqual(['epoch 1 of h1 is not current']);
  });
});
