#!/usr/bin/env bash
# Your own data, tasks that arrive over time, predictions: the README's second example.
#   1. upload CIFAR-10 as users have it (60,000 JPEGs in train/<class>/ and test/<class>/),
#   2. train 3 tasks of 2 classes with HyperMask,
#   3. continue that job with 2 more tasks (nothing retrained, nothing forgotten),
#   4. predict on test images (JPEG files) with a task id and without one.
# Needs the service running (`npm start`) and a key: KEY=$(npm run --silent apikey -- create --tenant me --quiet)
# Usage: KEY=... bash examples/cifar10-continual.sh [path/to/cifar10-jpeg.tar.gz]
# Settings: B (API base URL, default http://127.0.0.1:3000), ITERATIONS per task (default 300).
set -euo pipefail
B=${B:-http://127.0.0.1:3000}
ITERATIONS=${ITERATIONS:-300}
FILE=${1:-../shared/datasets/cifar10-jpeg.tar.gz}
: "${KEY:?set KEY to an API key: KEY=\$(npm run --silent apikey -- create --tenant me --quiet)}"
AUTH="Authorization: Bearer $KEY"
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"; }

wait_for() { # job id: follow it to the end (printing progress when it changes), fail unless it succeeded
  local last=""
  while :; do
    job=$(curl -sf "$B/v1/jobs/$1" -H "$AUTH")
    status=$(echo "$job" | json v.status)
    line="  $status: $(echo "$job" | json '`${v.progress.completedTasks}/${v.progress.tasksTotal} tasks done, ${Math.round(v.progress.fraction*100)} %`')"
    [ "$line" != "$last" ] && echo "$line" && last=$line
    case $status in succeeded) return ;; failed|cancelled) echo "$job"; exit 1 ;; esac
    sleep 10
  done
}

echo "== upload $FILE"
DS=$(curl -sf -XPOST "$B/v1/datasets?name=cifar10" -H "$AUTH" -H 'Content-Type: application/octet-stream' --data-binary @"$FILE" | json v.id)
curl -sf "$B/v1/datasets/$DS" -H "$AUTH" | json '`${v.id}: ${v.format}, ${v.inputShape}, classes ${v.classNames.join(" ")}, ${v.samples.train} train / ${v.samples.test} test`'

echo "== tasks 1-3: airplane/automobile, bird/cat, deer/dog"
A=$(curl -sf -XPOST "$B/v1/jobs" -H "$AUTH" -H 'Content-Type: application/json' -d '{
  "preset": "split-mnist", "training": {"iterationsPerTask": '"$ITERATIONS"'},
  "benchmark": {"kind": "datasets", "tasks": [
    {"dataset": "'"$DS"'", "classes": ["airplane", "automobile"]},
    {"dataset": "'"$DS"'", "classes": ["bird", "cat"]},
    {"dataset": "'"$DS"'", "classes": ["deer", "dog"]}]}}' | json v.id)
wait_for "$A"

echo "== continue with tasks 4-5: frog/horse, ship/truck"
C=$(curl -sf -XPOST "$B/v1/jobs" -H "$AUTH" -H 'Content-Type: application/json' -d '{
  "continueFrom": "'"$A"'",
  "benchmark": {"tasks": [{"dataset": "'"$DS"'", "classes": ["frog", "horse"]}, {"dataset": "'"$DS"'", "classes": ["ship", "truck"]}]}}' | json v.id)
wait_for "$C"
echo "accuracy matrix (row k: every task after training task k; rows 1-3 come from the first job):"
curl -sf "$B/v1/jobs/$C/metrics" -H "$AUTH" | json 'v.accuracyMatrix.map(r=>r.map(a=>(100*a).toFixed(1)).join("  ")).join("\n")+`\naverage ${(100*v.averageAccuracy).toFixed(2)} %, BWT ${(100*v.backwardTransfer).toFixed(2)} pp`'

echo "== predict on test images"
dir=$(mktemp -d)
tar xzf "$FILE" -C "$dir" test/cat/0000.jpg test/ship/0000.jpg test/horse/0000.jpg
for img in cat ship horse; do
  with=$(curl -sf -XPOST "$B/v1/jobs/$C/predict?task=1" -H "$AUTH" -H 'Content-Type: image/jpeg' --data-binary @"$dir/test/$img/0000.jpg" | json 'v.predictions[0].className')
  without=$(curl -sf -XPOST "$B/v1/jobs/$C/predict" -H "$AUTH" -H 'Content-Type: image/jpeg' --data-binary @"$dir/test/$img/0000.jpg" \
    | json 'const p=v.predictions[0]; `task ${p.task} (entropy ${p.entropies[p.task].toFixed(3)}), ${p.className}`')
  echo "  test/$img/0000.jpg: with task 1 (bird/cat) -> $with; without a task id -> $without"
done
rm -rf "$dir"
