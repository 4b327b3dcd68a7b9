#!/usr/bin/env bash
# Build the pulumi CLI, the Python language host and the dynamic-provider host script at the
# version in VERSION, into a cache outside the repo, and link them into .tools/bin.
# Skips all work when a pulumi of that version is already on PATH or already built.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$(tr -d '[:space:]' < "$here/VERSION")
bin="$root/.tools/bin"
cache="${MLSTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlstack}/pulumi-$version"
files=(pulumi pulumi-language-python pulumi-language-python-exec)
# The dynamic-provider host is ours (it runs the SDK's, with one-line errors): always ours,
# whichever pulumi runs, because .tools/bin comes first on the PATH `mlstack shell-env` sets.
host="$here/pulumi-resource-pulumi-python"
mkdir -p "$bin"
ln -sfn "$host" "$bin/pulumi-resource-pulumi-python"

reports() { [ -x "$1" ] && [ "$("$1" version 2>/dev/null)" = "$version" ]; }

# The runtime of Python policy packs (policy-host/main.go says why the python host cannot run
# them): ours too, whichever pulumi runs. Cached by a digest of its source, so an edit rebuilds it.
policy_host() {
  local key dest
  key=$(cat "$here/policy-host/main.go" "$here/go.sum" | sha256sum | cut -c1-16)
  dest="$cache/pulumi-language-python-policy-$key"
  if [ ! -x "$dest" ]; then
    command -v go >/dev/null || { echo "error: Go >= 1.25 is needed to build the policy-pack host: install it" >&2; exit 1; }
    echo "building the Python policy-pack host into $cache"
    mkdir -p "$cache"
    (cd "$here" && go build -mod=readonly -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
      -o "$dest.tmp" ./policy-host && mv "$dest.tmp" "$dest")
  fi
  ln -sfn "$dest" "$bin/pulumi-language-python-policy"
}
policy_host

# 1. A pinned pulumi on PATH (outside .tools/bin) serves as it is.
if onpath=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$bin" | paste -sd:) command -v pulumi) \
   && reports "$onpath"; then
  echo "pulumi $version found on PATH at $onpath; nothing to build"
  exit 0
fi

# 2. Build into the cache unless a complete build of this version is there.
complete=true
for f in "${files[@]}"; do [ -x "$cache/$f" ] || complete=false; done
if ! $complete || ! reports "$cache/pulumi"; then
  command -v go >/dev/null || { echo "error: Go >= 1.25 is needed to build pulumi: install it" >&2; exit 1; }
  echo "building pulumi $version from Go modules into $cache (first time only; several minutes)"
  mkdir -p "$cache"
  cd "$here"
  ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
  go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$cache/pulumi" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  # The language host comes from its own module (see python-host/go.mod for why), and its
  # exec shim must sit beside it, from the same module.
  cd "$here/python-host"
  go build -mod=readonly -trimpath -o "$cache/pulumi-language-python" \
    github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python
  host_sdk=$(go list -mod=readonly -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
  install -m 0755 "$host_sdk/python/cmd/pulumi-language-python-exec" "$cache/"
fi

# 3. Link the build into the project.
mkdir -p "$bin"
for f in "${files[@]}"; do ln -sfn "$cache/$f" "$bin/$f"; done
echo "pulumi $version ready in $bin"
