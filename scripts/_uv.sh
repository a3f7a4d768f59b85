# Sourced by the scripts (safe to source in your own shell too): sets ROOT and BACKEND and puts a
# `uv` on PATH — the one already there, the one running us ($UV), or one installed into .tools/.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BACKEND="$ROOT/packages/backend"
if ! command -v uv >/dev/null 2>&1; then
  if [ -n "${UV:-}" ] && [ -x "$UV" ]; then
    PATH="$(dirname "$UV"):$PATH"
  else
    if [ ! -x "$ROOT/.tools/bin/uv" ]; then
      echo "installing uv into .tools/ ..." >&2
      if ! python3 -m venv "$ROOT/.tools"; then
        echo "could not create .tools/ with python3 -m venv (Debian/Ubuntu: apt-get install python3-venv)," >&2
        echo "or install uv yourself: https://docs.astral.sh/uv/" >&2
        return 1
      fi
      "$ROOT/.tools/bin/python" -m pip install --quiet --upgrade pip uv || return 1
    fi
    PATH="$ROOT/.tools/bin:$PATH"
  fi
  export PATH
fi
