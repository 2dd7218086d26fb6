#!/usr/bin/env bash
# Fetches the real `cosign` binary (Debian 13 "trixie" package, cosign 2.5) for the signature tests,
# without touching the system's apt setup: a private apt state dir whose sources list is the system's
# Debian mirror with suite trixie, then `apt-get download cosign` and `dpkg -x`. Debian 12 has no
# cosign; the trixie build needs only libc6 >= 2.34, which Debian 12 has.
#
# Idempotent: does nothing when the binary is already in the cache. Prints the binary's path.
# Cache dir: $OTAFLUX_TEST_TOOLS, else ~/.cache/otaflux-test-tools. A cosign on PATH is not used:
# the tests want a known version.
set -euo pipefail

cache=${OTAFLUX_TEST_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/otaflux-test-tools}
bin="$cache/cosign/usr/bin/cosign"
if [[ -x "$bin" ]] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

# One fetch at a time (several test runs may start together); re-check once the lock is ours.
mkdir -p "$cache"
exec 9>"$cache/.get-cosign.lock"
flock 9
if [[ -x "$bin" ]] && "$bin" version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

mirror=http://deb.debian.org/debian
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
  [[ -r "$f" ]] || continue
  # The first Debian archive URI in use (deb822 `URIs:` or one-line `deb` entries; comments skipped).
  found=$(grep -E '^[[:space:]]*(URIs:|deb[[:space:]])' "$f" | grep -Eo 'https?://[^ ]+/debian/?([[:space:]]|$)' | head -n1 | tr -d '[:space:]' || true)
  if [[ -n "$found" ]]; then mirror=${found%/}; break; fi
done
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/etc/sources.list.d" "$work/etc/preferences.d" "$work/pkg"
echo "deb [signed-by=$keyring] $mirror trixie main" > "$work/etc/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$work/etc/sources.list"
  -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$work/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$work/etc/preferences.d"
  -o "Dir::State=$work/state"
  -o "Dir::State::status=$work/state/status"
  -o "Dir::Cache=$work/cache"
  -o "APT::Architecture=$(dpkg --print-architecture)"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)"
)
touch "$work/state/status"
echo "get-cosign: fetching the trixie package index from $mirror" >&2
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$work/pkg" && apt-get "${apt_opts[@]}" -qq download cosign >&2)
deb=$(ls "$work/pkg"/cosign_*.deb)
rm -rf "$cache/cosign.new"
mkdir -p "$cache/cosign.new"
dpkg -x "$deb" "$cache/cosign.new"
"$cache/cosign.new/usr/bin/cosign" version >/dev/null
rm -rf "$cache/cosign"
mv "$cache/cosign.new" "$cache/cosign"
echo "get-cosign: installed $(basename "$deb") into $cache/cosign" >&2
echo "$bin"
