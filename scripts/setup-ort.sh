#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library that ts loads at run time.
#
# The library ships in the npm package onnxruntime-node; `npm pack` fetches it through
# the npm registry (no URL is needed), we extract the Linux library for this machine's
# architecture into .ort/linux-<arch>/ and check its sha256 against scripts/ort.sha256.
# Re-running is cheap: a library already in place with the right hash is kept.
# Usage: scripts/setup-ort.sh [linux-x64|linux-arm64]   (default: this machine)
set -euo pipefail

ORT_VERSION=1.24.1
root=$(cd "$(dirname "$0")/.." && pwd)

fail() { echo "setup-ort: $*" >&2; exit 1; }

# An argument names another platform to fetch (release builds): linux-x64 or linux-arm64.
if [ $# -gt 0 ]; then
  case "$1" in
    linux-x64|linux-arm64) os=linux arch=${1#linux-} ;;
    *) fail "unknown platform $1 (want linux-x64 or linux-arm64)" ;;
  esac
else
  case "$(uname -s)" in
    Linux) os=linux ;;
    *) fail "only Linux is supported by this script; point ts at your own ONNX Runtime with --ort-lib or TS_ORT_LIB" ;;
  esac
  case "$(uname -m)" in
    x86_64|amd64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) fail "no ONNX Runtime build for architecture $(uname -m) in onnxruntime-node@$ORT_VERSION" ;;
  esac
fi
platform="$os-$arch"
want=$(awk -v p="$platform" '$2 == p {print $1}' "$root/scripts/ort.sha256")
[ -n "$want" ] || fail "no sha256 for $platform in scripts/ort.sha256"

dest="$root/.ort/$platform"
lib="$dest/libonnxruntime.so.1"
if [ -f "$lib" ] && [ "$(sha256sum "$lib" | cut -d' ' -f1)" = "$want" ]; then
  echo "setup-ort: ONNX Runtime $ORT_VERSION already at ${lib#$root/}"
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm not found: install Node.js and npm (Debian: apt-get install npm), then rerun 'make setup'"
command -v sha256sum >/dev/null 2>&1 || fail "sha256sum not found (Debian: apt-get install coreutils)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup-ort: fetching onnxruntime-node@$ORT_VERSION with npm pack"
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null 2>"$tmp/npm.log") \
  || fail "npm pack onnxruntime-node@$ORT_VERSION failed: $(tail -n 1 "$tmp/npm.log")"
member="package/bin/napi-v6/$os/$arch/libonnxruntime.so.1"
tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" "$member" \
  || fail "$member not found in onnxruntime-node-$ORT_VERSION.tgz"
got=$(sha256sum "$tmp/$member" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "sha256 of $member is $got, expected $want (scripts/ort.sha256); not installed"

mkdir -p "$dest"
mv "$tmp/$member" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "setup-ort: installed ONNX Runtime $ORT_VERSION at ${lib#$root/}"
