#!/usr/bin/env bun
/**
 * `bun run build`: compiles OtaFlux into single executables in dist/.
 *
 *     dist/otaflux                 linux-x64 (the machine it is built on)
 *     dist/otaflux-linux-arm64     linux-arm64 (Raspberry Pi 3/4/5, Zero 2 W; 64-bit OS)
 *
 * Options: `--target linux-x64|linux-arm64` (repeatable; default both), `--outdir DIR`.
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
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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
  const result = await Bun.build({
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

function parseCli(argv: string[]): { targets: BinaryTarget[]; outdir: string } {
  const targets: BinaryTarget[] = [];
  let outdir = join(ROOT, 'dist');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
    if (a.startsWith('--target')) {
      if (value !== 'linux-x64' && value !== 'linux-arm64') throw new Error(`--target: expected linux-x64 or linux-arm64, got '${value}'`);
      targets.push(value);
    } else if (a.startsWith('--outdir') && value) {
      outdir = resolve(value);
    } else {
      throw new Error(`unknown argument '${a}'; usage: bun run build [--target linux-x64|linux-arm64]... [--outdir DIR]`);
    }
  }
  return { targets: targets.length ? targets : ['linux-x64', 'linux-arm64'], outdir };
}

if (import.meta.main) {
  try {
    const { targets, outdir } = parseCli(process.argv.slice(2));
    for (const target of targets) {
      const r = await buildBinary({ target, outfile: join(outdir, binaryName(target)) });
      console.log(`${r.outfile}  ${(r.bytes / 1024 / 1024).toFixed(1)} MiB  ${target}  built in ${(r.ms / 1000).toFixed(1)} s`);
    }
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
