// Loaded before every test file (bunfig.toml): makes `import ... from 'otaflux'` resolve to this
// checkout's public API, as the server does for config files and plugins, and removes the temp
// folders the tests made once they are done.
import { afterAll } from 'bun:test';
import { registerPublicApiModule } from '../src/config/virtual-module.ts';
import { removeTempDirs } from './support/tmp.ts';

registerPublicApiModule();
afterAll(removeTempDirs);
