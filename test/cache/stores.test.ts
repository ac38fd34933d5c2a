import t from 'tap'
import { CACHE_TEST_MODES } from '../support/cache-modes.ts'
import { STORE_SITES } from '../support/stores.ts'
import { storeContract } from './store-contract.ts'

// The store contract (store-contract.ts) against each store: memory, redis and tiered under `npm test`;
// the Redis and tiered stores on a Redis Cluster under `npm run test:cluster` (CACHE_TEST_MODES=cluster).
for (const mode of CACHE_TEST_MODES) {
  for (const { name, site } of STORE_SITES[mode]) storeContract(t, name, site)
}
