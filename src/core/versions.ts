/** Semver handling lives in the public SDK helpers (sources use it too); the core imports it from here. */
export { parseVersionTag, rankVersions } from '../sdk/versions.ts';
