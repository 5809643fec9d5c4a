#!/usr/bin/env bash
# Collects the licences of everything a release ships into .cache/licenses/: ts's own, ONNX
# Runtime's (the library in the archives), and each Go module linked into ts or tsarchive
# (from the module cache, so `go mod download` must have run; the build does that).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/.cache/licenses"
rm -rf "$out"
mkdir -p "$out"
cp "$root/LICENSE" "$out/ts.txt"
cp "$root/third_party/onnxruntime/LICENSE" "$out/onnxruntime.txt"
cp "$(go env GOROOT)/LICENSE" "$out/go.txt"
cd "$root"
missing=0
while read -r path dir; do
  [ "$path" = "github.com/tsserve/ts" ] && continue
  lic=$(find "$dir" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'LICENCE*' -o -iname 'COPYING*' \) | sort | head -n 1)
  if [ -z "$lic" ]; then
    echo "collect-licenses: no licence file in $path ($dir)" >&2
    missing=1
    continue
  fi
  cp "$lic" "$out/$(echo "$path" | tr '/' '_').txt"
done < <(go list -deps -f '{{with .Module}}{{.Path}} {{if .Replace}}{{.Replace.Dir}}{{else}}{{.Dir}}{{end}}{{end}}' ./cmd/ts ./cmd/tsarchive | sort -u)
[ "$missing" = 0 ] || exit 1
echo "collect-licenses: $(ls "$out" | wc -l) licences in ${out#$root/}"
