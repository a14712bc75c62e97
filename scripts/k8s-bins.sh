#!/usr/bin/env bash
# Builds the real Kubernetes control plane that test/integration/operator-real/ runs against:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, kwok
# (fake kubelets) and etcd, from the Go modules in test/k8s/. The binaries are cached outside the clone
# in a directory named after the versions, so a fresh clone on the same machine builds nothing.
#
#   bash scripts/k8s-bins.sh          build if needed, print the bin directory on the last line
#   bash scripts/k8s-bins.sh --check  print it if built, else exit 3 (tests use this; they never build)
#   PETREL_K8S_CACHE=/path            cache root (default: ~/.cache/petrel-k8s)
#
# The build runs under `nice -n 19`: it takes a few CPU-minutes and should only use idle CPU on
# shared machines.
set -euo pipefail

K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
ETCD_VERSION=v3.6.16

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODDIR="$ROOT/test/k8s"
CACHE_ROOT="${PETREL_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/petrel-k8s}"
BIN="$CACHE_ROOT/$K8S_VERSION-kwok$KWOK_VERSION-etcd$ETCD_VERSION"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl kwok etcd)
# kwok's own example Stages (kustomize/stage/ in its module), as kwokctl uses them: Nodes become
# Ready and renew their Leases; Pods become Running and Ready, and go away when deleted.
KWOK_STAGES=(node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete)

say() { echo "k8s-bins: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# The stamp holds the hash of the module files and of this script (flags, stages), so editing
# either rebuilds even at the same versions (a minute with a warm Go build cache).
stamp() {
  cat "$MODDIR/go.mod" "$MODDIR/go.sum" "$MODDIR"/{kwok,etcd}/go.{mod,sum} "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1
}

cached() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
  [[ -s "$BIN/kwok-stages.yaml" ]] || return 1
  [[ "$(cat "$BIN/.stamp" 2>/dev/null)" == "$(stamp)" ]]
}

if cached; then
  [[ "${1:-}" == --check ]] || say "cached in $BIN"
  echo "$BIN"
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  say "no complete build in $BIN: run \`make k8s-bins\` (bash scripts/k8s-bins.sh)"
  exit 3
fi

command -v go >/dev/null || die "go is not installed (Go 1.26 or newer builds the control plane from test/k8s/go.mod)"
GOVER="$(go env GOVERSION)"
[[ "$GOVER" =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] >= 26 )) || die "Go 1.26 or newer is needed, found $GOVER"

mkdir -p "$CACHE_ROOT"
# Several `make test` runs may start at once: one builds, the others wait and then find the cache.
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  say "another build holds $CACHE_ROOT/.lock; waiting"
  flock 9
fi
if cached; then say "cached in $BIN (built by another process)"; echo "$BIN"; exit 0; fi

download() {
  local dir="$1" log
  log="$(mktemp)"
  say "downloading Go modules for ${dir#"$ROOT"/} (GOPROXY=$(go env GOPROXY))"
  if ! (cd "$dir" && timeout 1800 nice -n 19 go mod download -x >"$log" 2>&1); then
    # -x prints every request; the go command's own error lines say what failed
    { grep -v '^# get' "$log" || tail -n 5 "$log"; } | tail -n 10 >&2
    rm -f "$log"
    die "could not download the Go modules of ${dir#"$ROOT"/}: is the Go module proxy ($(go env GOPROXY)) reachable from this machine? The binaries cannot be built without it."
  fi
  say "  $(grep -c '^# get' "$log" || true) proxy requests ($(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1) in the module cache)"
  rm -f "$log"
}

start=$SECONDS
download "$MODDIR"
download "$MODDIR/kwok"
download "$MODDIR/etcd"

TMP="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"

# kubectl and the servers report this in /version (and kubectl's skew check reads it); without
# it they would say v0.0.0-master.
LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=37"
  # gitCommit empty: the module zip carries no commit (the default is an unexpanded "$Format:%H$")
  LDFLAGS+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  t=$SECONDS
  say "building $b $K8S_VERSION (nice -n 19; the first build takes several minutes)"
  (cd "$MODDIR" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "$LDFLAGS" -o "$TMP/$b" "k8s.io/kubernetes/cmd/$b") \
    || die "go build of $b failed"
  say "  $b built in $((SECONDS - t)) s"
done

t=$SECONDS
say "building kwok $KWOK_VERSION"
(cd "$MODDIR/kwok" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w" -o "$TMP/kwok" sigs.k8s.io/kwok/cmd/kwok) \
  || die "go build of kwok failed"
say "  kwok built in $((SECONDS - t)) s"

t=$SECONDS
say "building etcd $ETCD_VERSION"
(cd "$MODDIR/etcd" && CGO_ENABLED=0 nice -n 19 go build -trimpath -ldflags "-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3) \
  || die "go build of etcd failed"
say "  etcd built in $((SECONDS - t)) s"

KWOK_DIR="$(cd "$MODDIR/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
for s in "${KWOK_STAGES[@]}"; do
  [[ -f "$KWOK_DIR/kustomize/stage/$s.yaml" ]] || die "kwok $KWOK_VERSION has no stage $s.yaml in $KWOK_DIR"
  { echo '---'; cat "$KWOK_DIR/kustomize/stage/$s.yaml"; } >>"$TMP/kwok-stages.yaml"
done

stamp >"$TMP/.stamp"
rm -rf "$BIN"
mv "$TMP" "$BIN"
trap - EXIT
say "built in $((SECONDS - start)) s; $(du -sh "$BIN" | cut -f1) in $BIN"
echo "$BIN"
