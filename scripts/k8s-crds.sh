#!/usr/bin/env bash
# The third-party CRDs the operator writes objects of, as those projects publish them: external-dns's
# DNSEndpoint and cert-manager's Certificate, read from the projects' own Go module zips (fetched
# through the Go module proxy; nothing is built). test/integration/operator-real/ installs them in the
# real control plane so the API server validates the operator's objects against the real schemas.
#
#   bash scripts/k8s-crds.sh          fetch if needed, print the CRD directory on the last line
#   bash scripts/k8s-crds.sh --check  print it if fetched, else exit 3 (tests use this)
#   PETREL_K8S_CACHE=/path            cache root (default: ~/.cache/petrel-k8s), as k8s-bins.sh
#
# A script of its own rather than a step of k8s-bins.sh: that script's hash is part of its cache
# stamp, so editing it would rebuild the binaries every worktree on the machine shares.
set -euo pipefail

EXTERNAL_DNS_VERSION=v0.23.0
CERT_MANAGER_VERSION=v1.21.2

CACHE_ROOT="${PETREL_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/petrel-k8s}"
DIR="$CACHE_ROOT/crds-external-dns$EXTERNAL_DNS_VERSION-cert-manager$CERT_MANAGER_VERSION"
# module path | file inside the module | name in $DIR
FILES=(
  "sigs.k8s.io/external-dns@$EXTERNAL_DNS_VERSION|config/crd/standard/dnsendpoints.externaldns.k8s.io.yaml|dnsendpoints.externaldns.k8s.io.yaml"
  "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION|deploy/crds/cert-manager.io_certificates.yaml|certificates.cert-manager.io.yaml"
)

say() { echo "k8s-crds: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

cached() {
  local f
  for f in "${FILES[@]}"; do [[ -s "$DIR/${f##*|}" ]] || return 1; done
}

if cached; then
  [[ "${1:-}" == --check ]] || say "cached in $DIR"
  echo "$DIR"
  exit 0
fi
if [[ "${1:-}" == --check ]]; then
  say "no CRDs in $DIR: run \`make k8s-bins\` (bash scripts/k8s-crds.sh)"
  exit 3
fi
command -v go >/dev/null || die "go is not installed (it fetches the CRDs' modules from the Go module proxy)"
command -v unzip >/dev/null || die "unzip is not installed (apt-get install unzip)"

mkdir -p "$CACHE_ROOT"
TMP="$(mktemp -d "$CACHE_ROOT/.crds.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
for f in "${FILES[@]}"; do
  IFS='|' read -r mod file name <<<"$f"
  say "fetching $mod (GOPROXY=$(go env GOPROXY))"
  # A module whose go.mod asks for a newer Go than this one still downloads its zip, with an
  # "requires go >= …" error beside it: only the zip is read, so that error is not fatal.
  json="$(cd "$TMP" && GOFLAGS=-mod=mod timeout 600 go mod download -json "$mod" 2>&1 || true)"
  zip="$(sed -n 's/^[[:space:]]*"Zip": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")"
  if [[ -z "$zip" || ! -s "$zip" ]]; then
    say "$(grep '"Error"' <<<"$json" || tail -n 3 <<<"$json")"
    die "could not download $mod: is the Go module proxy ($(go env GOPROXY)) reachable from this machine?"
  fi
  unzip -p "$zip" "$mod/$file" >"$TMP/$name" || die "$mod has no $file"
  grep -q '^kind: CustomResourceDefinition' "$TMP/$name" || die "$mod/$file is not a CustomResourceDefinition"
done
chmod 755 "$TMP"
rm -rf "$DIR"
mv "$TMP" "$DIR"
trap - EXIT
say "CRDs in $DIR"
echo "$DIR"
