#!/usr/bin/env bash
# Install the pinned Azurite (package-lock.json) into .tools/azurite; skip when already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest="$root/.tools/azurite"
command -v node >/dev/null || { echo "error: Node.js >= 20 is needed for Azurite: install it (apt-get install nodejs)" >&2; exit 1; }
if cmp -s "$here/package-lock.json" "$dest/package-lock.json" && [ -x "$dest/node_modules/.bin/azurite-blob" ]; then
  exit 0
fi
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)
echo "azurite $(node -p "require('$dest/node_modules/azurite/package.json').version") installed in $dest"
