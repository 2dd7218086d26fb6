#!/usr/bin/env bash
# The whole test suite: `npm test`. Installs the Debian packages the tests need when they are
# missing (as root), fetches the test tools, runs bun test and prints a closing "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < test/system-deps.txt
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "installing test dependencies: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages for the tests: ${missing[*]}" >&2
    echo "install them: sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi
for tool in test/tools/*.sh; do [[ -e "$tool" ]] && bash "$tool"; done

BUN=${BUN:-$(command -v bun || echo node_modules/.bin/bun)}
mkdir -p test-results
set +e
"$BUN" test --timeout 60000 --reporter=junit --reporter-outfile=test-results/junit.xml "$@" 2>&1 | tee test-results/output.txt
status=${PIPESTATUS[0]}
set -e
read -r tests failures skipped < <(node -e '
  const x = require("fs").readFileSync("test-results/junit.xml", "utf8");
  const m = /<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"[^>]*\bskipped="(\d+)"/.exec(x)
         || /<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"/.exec(x);
  if (!m) { console.log("0 0 0"); process.exit(0); }
  console.log(m[1], m[2], m[3] || 0);
' 2>/dev/null || echo "0 0 0")
passed=$((tests - failures - skipped))
echo "${passed} passed, ${failures} failed, ${skipped} skipped"
if ((tests == 0)); then echo "no test ran" >&2; exit 1; fi
exit "$status"
