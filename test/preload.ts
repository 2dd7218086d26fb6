// Loaded before every test file (bunfig.toml): makes `import ... from 'otaflux'` resolve to this
// checkout's public API, as the server does for config files and plugins.
import { registerPublicApiModule } from '../src/config/virtual-module.ts';

registerPublicApiModule();
