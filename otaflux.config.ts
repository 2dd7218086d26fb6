// The built-in default: serve the example firmware in ./examples/firmware to any device.
// `npm start` runs OtaFlux with this file; see README.md ("Configuration") for every key.
import { defineConfig, dir, none } from 'otaflux';

export default defineConfig({
  server: { listenAddr: '0.0.0.0:8080', metricsListenAddr: '0.0.0.0:9090', logLevel: 'info' },
  cache: { dir: '.otaflux-cache', refreshInterval: 10 },
  defaults: {
    source: dir({ root: './examples/firmware' }),
    verifier: none(),
    extract: 'auto',
    auth: 'none',
  },
  devices: {
    // A lab device that may run release candidates.
    'esp32-lab-*': { allowPrerelease: true },
  },
});
