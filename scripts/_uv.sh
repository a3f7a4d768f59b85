# Sourced by the scripts: puts a `uv` on PATH, installing it into ./.tools with pip when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x "$ROOT/.tools/bin/uv" ]; then
    echo "installing uv into .tools/ ..." >&2
    python3 -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/python" -m pip install --quiet --upgrade pip uv
  fi
  export PATH="$ROOT/.tools/bin:$PATH"
fi
BACKEND="$ROOT/packages/backend"
