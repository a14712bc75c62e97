#!/usr/bin/env bash
# Make a built checkout of an earlier commit for a before/after benchmark in one run:
#
#   scripts/bench-baseline.sh REF [DIR]
#   node dist/bench/run.js --baseline DIR ...
#
# REF: any commit-ish of this repository. DIR (default ${XDG_CACHE_HOME:-~/.cache}/petrel-bench/<short-sha>)
# becomes a detached `git worktree` of REF. node_modules: a symlink to this checkout's
# node_modules when REF's package-lock.json describes the same installed tree (same package paths,
# versions and integrity; the root entry and dev/optional flags may differ), else `npm ci` in DIR.
# Then `npx tsc -p tsconfig.json` in DIR, and DIR/dist/.bench-baseline-commit records the commit.
#
# Idempotent: a DIR already holding a finished build of that commit is reused (only its
# node_modules is checked again). Prints the --baseline argument on stdout (progress on stderr).
# Remove a baseline with `git worktree remove --force DIR`.
set -euo pipefail

usage() { echo "usage: $0 REF [DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
REF=$1

say() { echo "bench-baseline: $*" >&2; }

ROOT=$(git rev-parse --show-toplevel)
SHA=$(git -C "$ROOT" rev-parse --verify --quiet "$REF^{commit}") || { say "unknown commit: $REF"; exit 1; }
SHORT=$(git -C "$ROOT" rev-parse --short "$SHA")
DIR=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/petrel-bench/$SHORT}
mkdir -p "$(dirname "$DIR")"
DIR=$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")
MARKER=$DIR/dist/.bench-baseline-commit

# 1. The sources of REF in DIR.
if [[ -e $DIR ]]; then
  if [[ -f $MARKER && $(cat "$MARKER") == "$SHA" && -f $DIR/dist/broker/src/main.js ]]; then
    say "reusing the build of $SHORT in $DIR"
    BUILT=1
  elif [[ $(git -C "$DIR" rev-parse --show-toplevel 2>/dev/null) == "$DIR" && $(git -C "$DIR" rev-parse HEAD) == "$SHA" ]]; then
    say "$DIR is a work tree at $SHORT without a finished build: building it"
    BUILT=0
  else
    say "$DIR exists and is not a checkout of $SHORT: give another DIR or remove it"
    exit 1
  fi
  if [[ -n $(git -C "$DIR" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    say "warning: $DIR has local changes to tracked files; the benchmark will report it as $SHORT-dirty"
  fi
else
  say "git worktree add --detach $DIR $SHORT"
  git -C "$ROOT" worktree add --detach --quiet "$DIR" "$SHA"
  BUILT=0
fi

# 2. node_modules: share this checkout's when the installed tree would be the same.
NM=$(readlink -f "$ROOT/node_modules" 2>/dev/null || true)
same_tree() {
  # $1, $2: lock files. Same when every installed package has the same path, version and integrity.
  node -e '
    const fs = require("fs");
    const tree = (f) => {
      const pk = JSON.parse(fs.readFileSync(f, "utf8")).packages || {};
      return JSON.stringify(Object.keys(pk).filter((k) => k !== "").sort()
        .map((k) => [k, pk[k].version, pk[k].integrity || pk[k].resolved || ""]));
    };
    process.exit(tree(process.argv[1]) === tree(process.argv[2]) ? 0 : 1);
  ' "$1" "$2"
}
if [[ -n $NM && -d $NM && -f $(dirname "$NM")/package-lock.json ]] && same_tree "$(dirname "$NM")/package-lock.json" "$DIR/package-lock.json"; then
  if [[ -L $DIR/node_modules && $(readlink -f "$DIR/node_modules") == "$NM" ]]; then
    say "node_modules: symlink to $NM (same installed tree)"
  else
    if [[ -L $DIR/node_modules ]]; then rm "$DIR/node_modules"; fi
    if [[ -e $DIR/node_modules ]]; then
      say "node_modules: keeping $DIR/node_modules (its own install)"
    else
      ln -s "$NM" "$DIR/node_modules"
      say "node_modules: symlinked to $NM (same installed tree)"
    fi
  fi
else
  # A symlink here would point at a tree REF was not locked to: install REF's own.
  if [[ -L $DIR/node_modules ]]; then rm "$DIR/node_modules"; fi
  if [[ -f $DIR/node_modules/.bench-baseline-lock ]] && cmp -s "$DIR/node_modules/.bench-baseline-lock" "$DIR/package-lock.json"; then
    say "node_modules: reusing $DIR/node_modules (npm ci of this lock file)"
  else
    say "node_modules: package-lock.json differs from $ROOT's installed tree: npm ci in $DIR"
    (cd "$DIR" && npm ci --no-audit --no-fund >&2)
    cp "$DIR/package-lock.json" "$DIR/node_modules/.bench-baseline-lock"
  fi
fi

# 3. Build.
if [[ $BUILT == 0 ]]; then
  say "building (npx tsc -p tsconfig.json in $DIR)"
  rm -f "$MARKER"
  (cd "$DIR" && npx tsc -p tsconfig.json >&2)
  [[ -f $DIR/dist/broker/src/main.js ]] || { say "build produced no dist/broker/src/main.js"; exit 1; }
  echo "$SHA" > "$MARKER"
fi

say "ready: node dist/bench/run.js --baseline $DIR ..."
echo "--baseline $DIR"
