import { describePoolStoreContract } from '../../test/contract/pool-store.contract.js';
import { describePoolStoreProperties } from '../../test/contract/pool-store.properties.js';
import { MemoryPoolStore } from './memory-store.js';

describePoolStoreContract('memory', async () => {
  const store = new MemoryPoolStore();
  return { store, cleanup: () => store.close() };
});

describePoolStoreProperties('memory', async () => {
  const store = new MemoryPoolStore();
  return { store, cleanup: () => store.close() };
});
