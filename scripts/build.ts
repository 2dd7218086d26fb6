#!/usr/bin/env bun
/**
 * `bun run build`: compiles OtaFlux into single executables in dist/.
 *
 *     dist/otaflux                 linux-x64 (the machine it is built on)
 *     dist/otaflux-linux-arm64     linux-arm64 (Raspberry Pi 3/4/5, Zero 2 W; 64-bit OS)
 *     dist/otaflux-sdk/            the plugin SDK ('otaflux' and 'otaflux/testing': declarations
 *     dist/otaflux-sdk-<v>.tgz     and run-time code) as an npm package, packed
 *
 * Options: `--target linux-x64|linux-arm64` (repeatable; default both), `--sdk` (only the SDK,
 * unless targets are given too), `--outdir DIR`.
 *
 * The binaries never read a `bunfig.toml`, `.env`, `tsconfig.json` or `package.json` from the
 * folder they run in (a `preload` in such a bunfig would run code before OtaFlux). The config file
 * and plugins are not bundled: the binary loads them at start-up.
 *
 * Cross-compiling works offline from Bun's point of view: Bun's linux-arm64 runtime is the npm
 * package `@oven/bun-linux-aarch64` of the same version as the Bun that builds. It is fetched once
 * with `npm pack` (npm's cache serves it afterwards) and unpacked under node_modules/.cache, so the
 * shared node_modules tree is never reconciled or pruned; Bun is then given its path and does not
 * try to download anything itself.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type BinaryTarget = 'linux-x64' | 'linux-arm64';

export interface BuildOptions {
  target: BinaryTarget;
  outfile: string;
  /** Minify the bundle (default true). */
  minify?: boolean;
  /** Precompile to JSC bytecode for a faster start (default true). */
  bytecode?: boolean;
}

export interface BuildResult {
  target: BinaryTarget;
  outfile: string;
  bytes: number;
  ms: number;
}

export const ROOT = resolve(import.meta.dir, '..');
const ENTRY = join(ROOT, 'src', 'main.ts');

/** npm package holding Bun's runtime for each target other than the host's. */
const RUNTIME_PACKAGES: Record<BinaryTarget, string> = {
  'linux-x64': '@oven/bun-linux-x64',
  'linux-arm64': '@oven/bun-linux-aarch64',
};

function hostTarget(): BinaryTarget | undefined {
  if (process.platform !== 'linux') return undefined;
  return process.arch === 'x64' ? 'linux-x64' : process.arch === 'arm64' ? 'linux-arm64' : undefined;
}

/**
 * Path of a Bun runtime executable for `target`, of exactly this Bun's version: the running Bun
 * itself for the host target, else the npm package, fetched with `npm pack` on first use.
 */
export async function runtimeFor(target: BinaryTarget): Promise<string> {
  if (target === hostTarget()) return process.execPath;
  const pkg = RUNTIME_PACKAGES[target];
  const dir = join(ROOT, 'node_modules', '.cache', 'otaflux-bun-runtimes', `${target}-${Bun.version}`);
  const exe = join(dir, 'package', 'bin', 'bun');
  if (existsSync(exe)) return exe;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const spec = `${pkg}@${Bun.version}`;
  await run(['npm', 'pack', '--prefer-offline', '--silent', '--pack-destination', dir, spec], ROOT, `fetching Bun's ${target} runtime (${spec}) with npm`);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`fetching ${spec}: npm pack left no tarball in ${dir}`);
  await run(['tar', '-xzf', tarball], dir, `unpacking ${spec}`);
  rmSync(join(dir, tarball));
  if (!existsSync(exe)) throw new Error(`unpacking ${spec}: ${exe} is missing`);
  chmodSync(exe, 0o755);
  return exe;
}

async function run(cmd: string[], cwd: string, what: string): Promise<void> {
  const p = Bun.spawn(cmd, { cwd, stdout: 'pipe', stderr: 'pipe' });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${what}: ${cmd[0]} exited ${code}: ${(err || out).trim().split('\n').slice(-5).join(' | ')}`);
}

/** Compiles one executable. Throws with Bun's build messages when the build fails. */
export async function buildBinary(o: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const executablePath = await runtimeFor(o.target);
  mkdirSync(resolve(o.outfile, '..'), { recursive: true });
  let result: Bun.BuildOutput;
  try {
    result = await Bun.build({
      entrypoints: [ENTRY],
      target: 'bun',
      // ESM keeps the entry's top-level await; bytecode for ESM needs `compile`, which we use.
      format: 'esm',
      minify: o.minify ?? true,
      bytecode: o.bytecode ?? true,
      sourcemap: 'none',
      compile: {
        target: `bun-${o.target}` as Bun.Build.CompileTarget,
        outfile: o.outfile,
        executablePath,
        autoloadBunfig: false,
        autoloadDotenv: false,
        autoloadTsconfig: false,
        autoloadPackageJson: false,
      },
    });
  } catch (e) {
    // Bun.build throws an AggregateError whose `errors` are the build messages.
    const messages = e instanceof AggregateError ? e.errors.map((x) => String(x)).join('\n') : String(e);
    throw new Error(`building ${o.target} binary failed:\n${messages}`);
  }
  if (!result.success) {
    const messages = result.logs.map((l) => String(l)).join('\n');
    throw new Error(`building ${o.target} binary failed:\n${messages}`);
  }
  return { target: o.target, outfile: o.outfile, bytes: statSync(o.outfile).size, ms: Math.round(performance.now() - started) };
}

/** The file name of each target's binary in dist/. */
export function binaryName(target: BinaryTarget): string {
  return target === 'linux-x64' ? 'otaflux' : `otaflux-${target}`;
}

/** Entry points of the SDK package: `otaflux` and `otaflux/testing`. */
const SDK_ENTRIES = [join(ROOT, 'src', 'public-api.ts'), join(ROOT, 'src', 'testing', 'index.ts')];

/**
 * Builds the SDK for plugins outside this repository into `outdir`, an npm package named `otaflux`
 * with `exports` for `.` and `./testing`: the declarations (which type-check without skipLibCheck:
 * types of packages other than Node's and Bun's are made opaque) and the run-time code (one bundle
 * per entry sharing a chunk, so both see the same checks). Packs it as `<outdir>-<version>.tgz`.
 */
export async function buildSdk(outdir: string): Promise<{ dir: string; tarball: string; version: string }> {
  rmSync(outdir, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  await run(
    [tsc, ...SDK_ENTRIES, '--declaration', '--emitDeclarationOnly', '--outDir', outdir, '--rootDir', join(ROOT, 'src'),
      '--target', 'ESNext', '--lib', 'ESNext', '--module', 'ESNext', '--moduleResolution', 'bundler', '--strict', '--skipLibCheck', '--allowImportingTsExtensions',
      '--verbatimModuleSyntax', '--resolveJsonModule', '--types', 'bun'],
    ROOT,
    'emitting the SDK declarations',
  );
  opaqueForeignTypes(outdir);
  const bundle = await Bun.build({
    entrypoints: SDK_ENTRIES, root: join(ROOT, 'src'), outdir, target: 'bun', format: 'esm', splitting: true,
    naming: { entry: '[dir]/[name].js', chunk: 'chunks/[name]-[hash].js' },
  });
  if (!bundle.success) throw new Error(`bundling the SDK failed:\n${bundle.logs.map(String).join('\n')}`);
  const { version } = (await Bun.file(join(ROOT, 'package.json')).json()) as { version: string };
  await Bun.write(join(outdir, 'package.json'), JSON.stringify(sdkPackageJson(version), null, 2) + '\n');
  await run(['npm', 'pack', '--silent', '--pack-destination', resolve(outdir, '..')], outdir, 'packing the SDK');
  const named = resolve(outdir, '..', `${sdkTarballName(version)}`);
  rmSync(named, { force: true });
  renameSync(resolve(outdir, '..', `otaflux-${version}.tgz`), named);
  return { dir: outdir, tarball: named, version };
}

/** The file name of the packed SDK of an OtaFlux version (`otaflux plugin init` depends on it). */
export function sdkTarballName(version: string): string {
  return `otaflux-sdk-${version}.tgz`;
}

function sdkPackageJson(version: string) {
  return {
    name: 'otaflux',
    version,
    description: 'OtaFlux plugin SDK: the public API (plugin contract, defineConfig, built-in factories) and otaflux/testing. The otaflux binary provides its own copy at run time.',
    type: 'module',
    types: './public-api.d.ts',
    exports: {
      '.': { types: './public-api.d.ts', default: './public-api.js' },
      './testing': { types: './testing/index.d.ts', default: './testing/index.js' },
    },
    engines: { bun: `>=${Bun.version}` },
    license: 'MIT',
  };
}

/**
 * Replaces type imports from packages other than Node's and Bun's in the emitted declarations by
 * opaque `unknown` aliases (they only appear in internal signatures, such as the cosign verifier's
 * Sigstore bundle), so a plugin project needs no such package to type-check. Throws on any other
 * foreign import, so a new one cannot slip into the package.
 */
function opaqueForeignTypes(dir: string): void {
  const local = (spec: string) => spec.startsWith('.') || spec.startsWith('node:') || spec === 'bun' || spec.startsWith('bun:');
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
    const path = join(dir, file);
    const text = readFileSync(path, 'utf8');
    const out = text.replace(/^import type \{ ([^}]+) \} from '([^']+)';$/gm, (line, names: string, spec: string) =>
      local(spec) ? line : names.split(',').map((n) => `/** Opaque outside OtaFlux (${spec}). */\ntype ${n.trim()} = unknown;`).join('\n'));
    const leak = /^(?:import|export)\b[^;]*?from '([^']+)'|\bimport\('([^']+)'\)/gm;
    for (const m of out.matchAll(leak)) {
      const spec = (m[1] ?? m[2]) as string;
      if (!local(spec)) throw new Error(`SDK declarations: ${file} imports '${spec}'; keep package types out of the public API`);
    }
    if (out !== text) writeFileSync(path, out);
  }
}

function parseCli(argv: string[]): { targets: BinaryTarget[]; sdk: boolean; outdir: string } {
  const targets: BinaryTarget[] = [];
  let sdk = false;
  let outdir = join(ROOT, 'dist');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--sdk') {
      sdk = true;
      continue;
    }
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
    if (a.startsWith('--target')) {
      if (value !== 'linux-x64' && value !== 'linux-arm64') throw new Error(`--target: expected linux-x64 or linux-arm64, got '${value}'`);
      targets.push(value);
    } else if (a.startsWith('--outdir') && value) {
      outdir = resolve(value);
    } else {
      throw new Error(`unknown argument '${a}'; usage: bun run build [--target linux-x64|linux-arm64]... [--sdk] [--outdir DIR]`);
    }
  }
  if (!targets.length && !sdk) return { targets: ['linux-x64', 'linux-arm64'], sdk: true, outdir };
  return { targets, sdk, outdir };
}

if (import.meta.main) {
  try {
    const { targets, sdk, outdir } = parseCli(process.argv.slice(2));
    for (const target of targets) {
      const r = await buildBinary({ target, outfile: join(outdir, binaryName(target)) });
      console.log(`${r.outfile}  ${(r.bytes / 1024 / 1024).toFixed(1)} MiB  ${target}  built in ${(r.ms / 1000).toFixed(1)} s`);
    }
    if (sdk) {
      const t = await buildSdk(join(outdir, 'otaflux-sdk'));
      console.log(`${t.dir}/  ${t.tarball}  the plugin SDK ('otaflux', 'otaflux/testing')`);
    }
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
