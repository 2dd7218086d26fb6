// The staged-rollout suite against a real PostgreSQL 15 (--database-url), same expectations as on SQLite.
import { rolloutSuite } from './rollout-suite.ts';
import { sharedPostgres } from '../support/postgres.ts';

rolloutSuite(async () => (await sharedPostgres()).createDatabase('fleet_suite'));
