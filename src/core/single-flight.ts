/** Single flight lives in the public SDK helpers (plugins use it too); the core imports it from here. */
export { SingleFlight } from '../sdk/single-flight.ts';
