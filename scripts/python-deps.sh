#!/usr/bin/env bash
# Installs the pinned Python packages of scripts/python-requirements.txt into a virtualenv
# under ~/.cache/petrel-py/<hash of that file>/, once: a changed pin makes a new venv, an
# unchanged one is reused. Prints the venv's python with --print (tests call it that way).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/python-requirements.txt"
py="${PYTHON:-python3}"
command -v "$py" >/dev/null 2>&1 || { echo "python3 is missing: install it (Debian: python3 python3-venv)" >&2; exit 1; }
hash="$( (cat "$req"; "$py" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-16)"
venv="${PETREL_PY_CACHE:-$HOME/.cache/petrel-py}/$hash"
if [ ! -f "$venv/.installed" ]; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$py" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$venv/.installed"
fi
if [ "${1:-}" = --print ]; then echo "$venv/bin/python"; fi
