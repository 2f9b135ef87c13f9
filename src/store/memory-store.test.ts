import { describePoolStoreContract } from '../../test/contract/pool-store.contract.js';
import { MemoryPoolStore } from './memory-store.js';

describePoolStoreContract('memory', async () => {
  const store = new MemoryPoolStore();
  return { store, cleanup: () => store.close() };
});
