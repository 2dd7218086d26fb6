/**
 * The files `otaflux plugin init` writes: package.json, tsconfig.json, README.md, and the kind's
 * plugin and test (one file per kind beside this one).
 */
import type { PluginKind } from '../../../plugin.ts';
import type { Body } from './body.ts';
import { sourceBody } from './source.ts';
import { verifierBody } from './verifier.ts';
import { extractorBody } from './extractor.ts';
import { authenticatorBody } from './auth.ts';

const BODIES: Record<PluginKind, (id: string, fn: string) => Body> = { source: sourceBody, verifier: verifierBody, extractor: extractorBody, authenticator: authenticatorBody };

export interface Scaffold {
  kind: PluginKind;
  /** The plugin id, `<prefix>.<name>`. */
  id: string;
  name: string;
  otafluxVersion: string;
  typesBunVersion: string;
  typescriptVersion: string;
}

/** `http-index` → `httpIndex`, `acme.hsm` → `acmeHsm`: the factory's name. */
export function factoryName(name: string): string {
  return name.replace(/[.-]+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** File name → contents. */
export function pluginFiles(s: Scaffold): Record<string, string> {
  const file = `${s.name}.ts`;
  const fn = factoryName(s.name);
  const body = BODIES[s.kind](s.id, fn);
  return {
    'package.json': packageJson(s, file),
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ESNext', module: 'ESNext', moduleResolution: 'bundler', lib: ['ESNext'], types: ['bun'],
        strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true, allowImportingTsExtensions: true, verbatimModuleSyntax: true,
      },
      include: ['*.ts'],
    }, null, 2) + '\n',
    [file]: body.plugin,
    [`${s.name}.test.ts`]: body.test.replaceAll('FILE', `./${file}`),
    'README.md': readme(s, file, fn, body.use),
  };
}

function packageJson(s: Scaffold, file: string): string {
  return JSON.stringify({
    name: `otaflux-plugin-${s.id.replaceAll('.', '-')}`,
    version: '0.1.0',
    private: true,
    type: 'module',
    main: `./${file}`,
    scripts: { test: 'bun test', typecheck: 'tsc --noEmit' },
    devDependencies: { otaflux: `file:otaflux-sdk-${s.otafluxVersion}.tgz`, '@types/bun': s.typesBunVersion, typescript: s.typescriptVersion },
  }, null, 2) + '\n';
}

function readme(s: Scaffold, file: string, fn: string, use: string): string {
  return `# ${s.id}

An OtaFlux ${s.kind} plugin. The contract and the rules are in OtaFlux's plugins/README.md.

## Set up

Copy the SDK of the OtaFlux you deploy here (\`bun run build\` in OtaFlux writes
\`dist/otaflux-sdk-${s.otafluxVersion}.tgz\`), then:

\`\`\`sh
npm install        # otaflux (the SDK, from the .tgz), @types/bun, typescript
bun test           # ${s.name}.test.ts, through otaflux/testing: the checks OtaFlux runs at load, then the plugin
npx tsc --noEmit   # strict, without skipLibCheck
\`\`\`

## Use it

Put \`${file}\` beside \`otaflux.config.ts\` (e.g. in \`plugins/\`); the otaflux binary supplies \`'otaflux'\` at run time:

\`\`\`ts
import { defineConfig } from 'otaflux';
import { ${fn} } from './plugins/${file}';

export default defineConfig({
  ${use}
});
\`\`\`

\`otaflux check-config\` then lists it, or says in one line what to change.
`;
}
