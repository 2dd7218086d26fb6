#!/usr/bin/env bun
/**
 * `bun run build`: compiles OtaFlux into single executables in dist/.
 *
 *     dist/otaflux                 linux-x64 (the machine it is built on)
 *     dist/otaflux-linux-arm64     linux-arm64 (Raspberry Pi 3/4/5, Zero 2 W; 64-bit OS)
 *     dist/otaflux-types/          type declarations of the public API ('otaflux'), as an npm
 *     dist/otaflux-types-<v>.tgz   package for plugin and config authors' editors
 *
 * Options: `--target linux-x64|linux-arm64` (repeatable; default both), `--types` (only the
 * declarations, unless targets are given too), `--outdir DIR`.
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
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
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

/**
 * Emits the declarations of src/public-api.ts (and what it references) into `outdir` with a
 * package.json naming the package `otaflux`, then packs it as `<outdir>-<version>.tgz`, so a plugin
 * outside this repository gets types with `npm install --save-dev ./otaflux-types-<version>.tgz`.
 */
export async function buildTypes(outdir: string): Promise<{ dir: string; tarball: string }> {
  rmSync(outdir, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  await run(
    [tsc, join(ROOT, 'src', 'public-api.ts'), '--declaration', '--emitDeclarationOnly', '--outDir', outdir, '--rootDir', join(ROOT, 'src'),
      '--target', 'ESNext', '--lib', 'ESNext', '--module', 'ESNext', '--moduleResolution', 'bundler', '--strict', '--skipLibCheck', '--allowImportingTsExtensions',
      '--verbatimModuleSyntax', '--resolveJsonModule', '--types', 'bun'],
    ROOT,
    'emitting the public API declarations',
  );
  const { version } = (await Bun.file(join(ROOT, 'package.json')).json()) as { version: string };
  await Bun.write(
    join(outdir, 'package.json'),
    JSON.stringify({
      name: 'otaflux',
      version,
      description: 'Types of the OtaFlux public API (defineConfig, the plugin contract, built-in factories) for otaflux.config.ts and plugins. The otaflux binary provides the code at run time.',
      types: './public-api.d.ts',
      license: 'MIT',
    }, null, 2) + '\n',
  );
  await run(['npm', 'pack', '--silent', '--pack-destination', resolve(outdir, '..')], outdir, 'packing the declarations');
  const tarball = resolve(outdir, '..', `otaflux-${version}.tgz`);
  const named = resolve(outdir, '..', `otaflux-types-${version}.tgz`);
  rmSync(named, { force: true });
  renameSync(tarball, named);
  return { dir: outdir, tarball: named };
}

function parseCli(argv: string[]): { targets: BinaryTarget[]; types: boolean; outdir: string } {
  const targets: BinaryTarget[] = [];
  let types = false;
  let outdir = join(ROOT, 'dist');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--types') {
      types = true;
      continue;
    }
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
    if (a.startsWith('--target')) {
      if (value !== 'linux-x64' && value !== 'linux-arm64') throw new Error(`--target: expected linux-x64 or linux-arm64, got '${value}'`);
      targets.push(value);
    } else if (a.startsWith('--outdir') && value) {
      outdir = resolve(value);
    } else {
      throw new Error(`unknown argument '${a}'; usage: bun run build [--target linux-x64|linux-arm64]... [--types] [--outdir DIR]`);
    }
  }
  if (!targets.length && !types) return { targets: ['linux-x64', 'linux-arm64'], types: true, outdir };
  return { targets, types, outdir };
}

if (import.meta.main) {
  try {
    const { targets, types, outdir } = parseCli(process.argv.slice(2));
    for (const target of targets) {
      const r = await buildBinary({ target, outfile: join(outdir, binaryName(target)) });
      console.log(`${r.outfile}  ${(r.bytes / 1024 / 1024).toFixed(1)} MiB  ${target}  built in ${(r.ms / 1000).toFixed(1)} s`);
    }
    if (types) {
      const t = await buildTypes(join(outdir, 'otaflux-types'));
      console.log(`${t.dir}/  ${t.tarball}  types of 'otaflux' for plugin authors`);
    }
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
