// Staged rollouts end to end on the embedded store (SQLite beside the cache, nothing to set up).
import { rolloutSuite } from './rollout-suite.ts';

rolloutSuite(async () => undefined);
