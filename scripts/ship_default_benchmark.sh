#!/usr/bin/env bash
# Rebuild what ships for the default benchmark from a collection working folder, in order:
# the merged table, the merged timing table (epoch times, and with --cost-metrics peak training
# memory and inference latency, measured apart on a quiet machine, from TIMING_WORKDIR, default
# surrogates/data/collections/resnet8_cifar10_timing), XGBoost settings (grouped-CV search), the
# fitted surrogate with its validation report, the query-speed figure, and the regression
# baseline of every method.
#   bash scripts/ship_default_benchmark.sh WORKDIR [--partial]
#
# The timing collection, on two otherwise idle cores (--configs as the main collection's):
#   git rm -r -q surrogates/data/collections/resnet8_cifar10_timing  # if collected without them
#   for i in 0 1; do python -m surrogates.collect run \
#     --workdir surrogates/data/collections/resnet8_cifar10_timing \
#     --data PATH/TO/cifar10-jpeg.tar.gz --cache-dir .data/cache --model resnet8 --n-train 1000 \
#     --n-val 500 --epochs 2 --configs 600 --multi-seed-configs 50 --seeds 2 --threads 1 \
#     --device cpu --cost-metrics --shard $i/2 & done; wait
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=${1:?usage: ship_default_benchmark.sh WORKDIR [--partial]}
shift
timing_workdir=${TIMING_WORKDIR:-surrogates/data/collections/resnet8_cifar10_timing}
table=surrogates/data/resnet8_cifar10
timing=surrogates/data/resnet8_cifar10_timing
rm -rf "$table" "$timing"
python -m surrogates.collect merge --workdir "$workdir" --out "$table" --name resnet8_cifar10 "$@"
python -m surrogates.collect summary --table "$table" > "$table/summary.json"
python -m surrogates.collect merge --workdir "$timing_workdir" --out "$timing" \
    --name resnet8_cifar10_timing
python -m surrogates.collect summary --table "$timing" > "$timing/summary.json"
python scripts/search_xgb_params.py "$table" --timing "$timing" --write
python -m surrogates.fit "$table" --out "$table/surrogate" --timing "$timing" --validate
python scripts/bench_surrogate_query.py "$table/surrogate"
python scripts/regression_check.py record
