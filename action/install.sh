#!/usr/bin/env bash
# Installs the imagegate release archive for this runner, verified by its sha256, as the GitHub
# Action does. The archive and its `.sha256` are the ones `cargo xtask dist` writes and the
# release workflow publishes:
#   <base>/<tag>/imagegate-<version>-<target>.tar.gz(.sha256)
#
# Environment:
#   IG_VERSION       the release tag (v1.2.3); required
#   IG_DEST          where the binary goes (<dest>/imagegate); required
#   IG_RELEASE_BASE  where releases are downloaded from
#                    (default https://github.com/imagegate/imagegate/releases/download)
#   IG_TARGET        the target triple (default: from RUNNER_OS/RUNNER_ARCH, else uname)
#
# Exit status: 0 installed; 1 anything else, with a `::error::` line that says what to do. A
# checksum that does not match is never installed.
set -euo pipefail

fail() {
  echo "::error::imagegate install: $*" >&2
  exit 1
}

[ -n "${IG_VERSION:-}" ] || fail "no release tag given (IG_VERSION)"
[ -n "${IG_DEST:-}" ] || fail "no destination given (IG_DEST)"
case "$IG_VERSION" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) fail "\`$IG_VERSION\` is not a release tag (vX.Y.Z): pin the action to a release, or set build-from-source: true" ;;
esac
base="${IG_RELEASE_BASE:-https://github.com/imagegate/imagegate/releases/download}"

target="${IG_TARGET:-}"
if [ -z "$target" ]; then
  os="${RUNNER_OS:-$(uname -s)}"
  arch="${RUNNER_ARCH:-$(uname -m)}"
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
    macOS/* | Darwin/*) fail "imagegate runs on Linux only (its helm sandbox uses Linux's pidfd, memfd and clone): run the job on a Linux runner" ;;
    *) fail "no release build for $os/$arch: set build-from-source: true" ;;
  esac
fi

name="imagegate-${IG_VERSION#v}-$target"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch() {
  curl --fail --silent --show-error --location --retry 3 --retry-delay 2 \
    --connect-timeout 20 --max-time 300 --proto '=https,http' -o "$work/$1" "$base/$IG_VERSION/$1" \
    || fail "could not download $base/$IG_VERSION/$1"
}
fetch "$name.tar.gz"
fetch "$name.tar.gz.sha256"

want="$(awk 'NR == 1 { print $1 }' "$work/$name.tar.gz.sha256")"
case "$want" in
  [0-9a-f][0-9a-f]*) ;;
  *) fail "$name.tar.gz.sha256 holds no sha256" ;;
esac
[ "${#want}" -eq 64 ] || fail "$name.tar.gz.sha256 holds no sha256"
if command -v sha256sum >/dev/null 2>&1; then
  got="$(sha256sum "$work/$name.tar.gz" | awk '{ print $1 }')"
else
  got="$(shasum -a 256 "$work/$name.tar.gz" | awk '{ print $1 }')"
fi
[ "$got" = "$want" ] || fail "checksum mismatch for $name.tar.gz: expected $want, got $got; not installed"

mkdir -p "$work/x"
tar -xzf "$work/$name.tar.gz" -C "$work/x"
[ -f "$work/x/$name/imagegate" ] || fail "$name.tar.gz holds no $name/imagegate"
mkdir -p "$IG_DEST"
install -m 0755 "$work/x/$name/imagegate" "$IG_DEST/imagegate"
echo "imagegate $IG_VERSION ($target) installed in $IG_DEST, sha256 $got"
