/**
 * Makes `import { defineConfig } from 'otaflux'` work in a config file or plugin loaded at run time,
 * also from the compiled binary, where no `node_modules/otaflux` exists: the host registers its own
 * public API as a virtual module once, before it imports any user file. `otaflux/testing` (the
 * plugin test harness) is registered beside it, sharing the same checks.
 */
import * as api from '../public-api.ts';
import * as testing from '../testing/index.ts';

let registered = false;

export function registerPublicApiModule(): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: 'otaflux-public-api',
    setup(build) {
      build.module('otaflux', () => ({ exports: { ...api }, loader: 'object' }));
      build.module('otaflux/testing', () => ({ exports: { ...testing }, loader: 'object' }));
    },
  });
}
