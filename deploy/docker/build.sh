#!/usr/bin/env bash
# Builds a self-contained install of audit-forwarder from this source checkout, the one build step of the container
# image (deploy/docker/Dockerfile) and what CI runs on a clean copy (.ci/run): `npm ci` (the compiler is a dev
# dependency), `npm pack` (which compiles dist/ through prepack), then the tarball installed globally into PREFIX
# without dev dependencies. The result, PREFIX/lib/node_modules/audit-forwarder (the command, its compiled code
# and its production dependencies) and PREFIX/bin/audit-forwarder, needs only Node.js >= 22 to run.
#
# Usage: deploy/docker/build.sh [PREFIX]     (PREFIX defaults to /opt/audit-forwarder)
# The checkout gets node_modules/ and dist/; the npm registry (or its cache) must be reachable.
set -euo pipefail

prefix=${1:-/opt/audit-forwarder}
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
packs=$(mktemp -d)
trap 'rm -rf "$packs"' EXIT

# Settings an enclosing npm script may have exported would point these npm commands at another project.
unset npm_config_prefix npm_config_local_prefix npm_config_global npm_config_omit npm_config_include

cd "$source_dir"
npm ci --prefer-offline --no-audit --no-fund
npm pack --pack-destination "$packs"
tarballs=("$packs"/audit-forwarder-*.tgz)
if [ "${#tarballs[@]}" -ne 1 ] || [ ! -f "${tarballs[0]}" ]; then
  echo "build.sh: expected one audit-forwarder-*.tgz from npm pack in $packs" >&2
  exit 1
fi
# A global install extracts the tarball (no link back to this checkout) and omits dev dependencies.
npm install --global --prefix "$prefix" --omit=dev --no-audit --no-fund "${tarballs[0]}"

# Smoke test with the checkout's pinned Node.js (the one on PATH may be older than the package needs).
command=$prefix/lib/node_modules/audit-forwarder/bin/audit-forwarder.js
echo "build.sh: installed audit-forwarder $("$source_dir/node_modules/.bin/node" "$command" --version) into $prefix" >&2
