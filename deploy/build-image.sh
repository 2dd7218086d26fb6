#!/bin/sh
# Builds the OtaFlux container image from a compiled binary, with no base image and no network:
# the image holds the binary, the five glibc files it links (ld.so, libc, libm, libpthread, libdl),
# /etc/passwd with the non-root user 65532 and the cache folder. See deploy/Containerfile.
#
#   bun run build                                          # dist/otaflux, dist/otaflux-linux-arm64
#   deploy/build-image.sh --arch amd64 --tag otaflux:0.2.0
#   deploy/build-image.sh --arch arm64 --tag otaflux:0.2.0-arm64
#
# Options: --arch amd64|arm64 (default: this machine's), --binary PATH (default: the dist/ file of
# that architecture), --tag NAME (default otaflux:latest), --engine podman|docker|buildah (default:
# the first one installed), --context DIR (where the build context is assembled; default a temp
# folder, removed afterwards). Extra arguments after -- go to the engine's build command.
#
# The glibc files come from this machine: /lib/x86_64-linux-gnu for amd64 (Debian, Ubuntu) and,
# for arm64, Debian's libc6-arm64-cross (/usr/aarch64-linux-gnu/lib) or, on an arm64 machine,
# /lib/aarch64-linux-gnu. Build on Debian 12 or newer (glibc 2.36): Bun needs at least 2.27.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
arch=""
binary=""
tag="otaflux:latest"
engine=""
context=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --engine) engine=$2; shift 2 ;;
    --context) context=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "build-image.sh: unknown argument '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

if [ -z "$arch" ]; then
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=unknown ;; esac
fi
case "$arch" in
  amd64)
    triplet=x86_64-linux-gnu; loader=/lib64/ld-linux-x86-64.so.2
    libdirs="/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu"
    [ -n "$binary" ] || binary="$root/dist/otaflux" ;;
  arm64)
    triplet=aarch64-linux-gnu; loader=/lib/ld-linux-aarch64.so.1
    libdirs="/usr/aarch64-linux-gnu/lib /lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu"
    [ -n "$binary" ] || binary="$root/dist/otaflux-linux-arm64" ;;
  *) echo "build-image.sh: --arch must be amd64 or arm64, got '$arch'" >&2; exit 2 ;;
esac
[ -f "$binary" ] || { echo "build-image.sh: no binary at $binary: run 'bun run build' first or pass --binary" >&2; exit 1; }

if [ -z "$engine" ]; then
  for e in podman docker buildah; do
    if command -v "$e" >/dev/null 2>&1; then engine=$e; break; fi
  done
fi
[ -n "$engine" ] || { echo "build-image.sh: no podman, docker or buildah found" >&2; exit 1; }

cleanup=""
if [ -z "$context" ]; then
  context=$(mktemp -d "${TMPDIR:-/tmp}/otaflux-image-XXXXXX")
  cleanup=$context
fi
trap '[ -z "$cleanup" ] || rm -rf "$cleanup"' EXIT
rootfs="$context/rootfs.d"
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/lib/$triplet" "$rootfs/etc/otaflux" "$rootfs/var/cache/otaflux" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/usr/local/bin/otaflux"
chmod 0755 "$rootfs/usr/local/bin/otaflux"

# The first of $libdirs that has the file (cp -L: the real file, not a symlink into the host).
find_lib() {
  for d in $libdirs; do
    if [ -e "$d/$1" ]; then echo "$d/$1"; return 0; fi
  done
  echo "build-image.sh: $1 for $arch not found in $libdirs (arm64 on x86-64: apt-get install libc6-arm64-cross)" >&2
  return 1
}
mkdir -p "$rootfs$(dirname "$loader")"
cp -L "$(find_lib "$(basename "$loader")")" "$rootfs$loader"
for lib in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2; do
  cp -L "$(find_lib "$lib")" "$rootfs/lib/$triplet/$lib"
done

printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:otaflux:/home/nonroot:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
# One archive, so the owners are set here and need no root: everything root's, except the cache
# folder, which belongs to the image's user (a new named volume takes its owner from it).
tar -cf "$context/rootfs.tar" --numeric-owner --owner=0 --group=0 --exclude=./var/cache/otaflux -C "$rootfs" .
tar -rf "$context/rootfs.tar" --numeric-owner --owner=65532 --group=65532 -C "$rootfs" ./var/cache/otaflux
rm -rf "$rootfs"
cp "$here/Containerfile" "$context/Containerfile"

case "$engine" in
  buildah) verb=bud ;;
  *) verb=build ;;
esac
"$engine" "$verb" "$@" --platform "linux/$arch" -f "$context/Containerfile" -t "$tag" "$context"
