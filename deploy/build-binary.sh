#!/usr/bin/env bash
# Builds the single-file `otaflux` executable for Linux, for this machine's or another
# architecture, with the Bun runtime taken from the npm registry (the same version as the
# project's devDependency), so nothing else is downloaded. Used by deploy/Containerfile.
#
#   deploy/build-binary.sh amd64|amd64-baseline|arm64 [OUTFILE]
#
# amd64-baseline runs on x86-64 CPUs without AVX2. arm64 runs on a Raspberry Pi 3/4/5 or
# Zero 2 W with a 64-bit OS. Default OUTFILE: dist/otaflux-linux-<arch>.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:?usage: deploy/build-binary.sh amd64|amd64-baseline|arm64 [OUTFILE]}
out=${2:-dist/otaflux-linux-$arch}
case "$arch" in
  amd64) target=bun-linux-x64; pkg=@oven/bun-linux-x64 ;;
  amd64-baseline) target=bun-linux-x64-baseline; pkg=@oven/bun-linux-x64-baseline ;;
  arm64) target=bun-linux-arm64; pkg=@oven/bun-linux-aarch64 ;;
  *) echo "build-binary: unknown architecture '$arch' (amd64, amd64-baseline or arm64)" >&2; exit 2 ;;
esac

version=$(node -p 'require("./package.json").devDependencies.bun')
bun=${BUN:-$(command -v bun || echo node_modules/.bin/bun)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The target's runtime, unpacked from its npm package (no install scripts run).
(cd "$work" && npm pack --silent "$pkg@$version" >/dev/null && tar xzf ./*.tgz)
runtime="$work/package/bin/bun"
[[ -x "$runtime" ]] || { echo "build-binary: $pkg@$version has no bin/bun" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
# No bunfig.toml/.env autoload: the binary must not run code from its working directory.
"$bun" build src/main.ts --compile \
  --target="$target" --compile-executable-path="$runtime" \
  --no-compile-autoload-bunfig --no-compile-autoload-dotenv \
  ${BUILD_EXTRA_FLAGS:-} \
  --outfile "$out"
echo "built $out ($target, bun $version)"
