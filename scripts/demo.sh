#!/usr/bin/env bash
# The five steps on the digits sample: pack it with tsarchive, serve it with ts serve on free
# ports, classify sample images with curl and with ts infer, explain one, list the models, and
# stop the server. Run through `make demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

work=$(mktemp -d)
log="$work/serve.log"
cleanup() {
  if [ -n "${pid:-}" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== 1-3. pack the digits sample (model + image_classifier handler + labels)"
bin/tsarchive --model-name digits --version 1.0 --serialized-file samples/digits/model.onnx \
  --handler image_classifier --extra-files samples/digits/index_to_name.json \
  --export-path "$work/model_store"

echo "== 4. ts serve"
bin/ts --log-format text serve --model-store "$work/model_store" --models digits=digits.mar \
  --inference-address 127.0.0.1:0 --management-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
  --grpc-inference-port 0 --grpc-management-port 0 2>"$log" &
pid=$!
inference=""
for _ in $(seq 1 100); do
  inference=$(sed -n 's/.*msg=listening api=inference address=\([^ ]*\).*/\1/p' "$log" | head -n 1)
  [ -n "$inference" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "demo: ts serve exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$inference" ] || { cat "$log" >&2; echo "demo: ts serve did not start" >&2; exit 1; }
echo "serving on $inference"
echo "== ts ping --wait 30s (the model loads in the background: wait until the server is Healthy)"
bin/ts --host "$inference" ping --wait 30s

management=$(sed -n 's/.*msg=listening api=management address=\([^ ]*\).*/\1/p' "$log" | head -n 1)

echo "== 5. curl -T samples/digits/3.png $inference/predictions/digits"
curl -fsS -T samples/digits/3.png "$inference/predictions/digits"
echo "== 5. ts infer digits samples/digits/3.png samples/digits/7.png"
bin/ts --host "$inference" --management-host "$management" infer digits samples/digits/3.png samples/digits/7.png
echo "== ts explain digits samples/digits/3.png (which pixels made it a 3)"
bin/ts --host "$inference" --management-host "$management" explain digits samples/digits/3.png --patch 2
echo "== ts list"
bin/ts --host "$inference" --management-host "$management" list

kill -TERM "$pid"
wait "$pid"
pid=""
echo "== server stopped"
