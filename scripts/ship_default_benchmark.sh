#!/usr/bin/env bash
# Rebuild what ships for the default benchmark from a collection working folder, in order:
# the merged table, the merged timing table (epoch times, measured apart on a quiet machine, from
# TIMING_WORKDIR, default surrogates/data/collections/resnet8_cifar10_timing), the merged
# cost-metrics table (peak training memory and inference latency, from COSTS_WORKDIR, default
# surrogates/data/collections/resnet8_cifar10_timing_costs), XGBoost settings (grouped-CV search),
# the fitted surrogate with its validation report, the query-speed figure, and the regression
# baseline of every method.
#   bash scripts/ship_default_benchmark.sh WORKDIR [--partial]
#
# The timing and cost-metrics tables may hold fewer configurations of the same design than the
# table (clean epoch times need a quiet machine): the surrogate's epoch-time and cost outputs are
# then fitted on the configurations they hold (surrogates/timing.py), and the tabular twin takes
# the others' from the surrogate's mean prediction.
# The timing collection, on two otherwise idle cores (--configs as the main collection's), and the
# cost-metrics collection (the same command with --cost-metrics into COSTS_WORKDIR; it may run on
# a busier day: memory and latency are repeatable under load, epoch times are not):
#   for i in 0 1; do python -m surrogates.collect run \
#     --workdir surrogates/data/collections/resnet8_cifar10_timing \
#     --data PATH/TO/cifar10-jpeg.tar.gz --cache-dir .data/cache --model resnet8 --n-train 1000 \
#     --n-val 500 --epochs 2 --configs 600 --multi-seed-configs 50 --seeds 2 --threads 1 \
#     --device cpu --shard $i/2 & done; wait
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=${1:?usage: ship_default_benchmark.sh WORKDIR [--partial]}
shift
timing_workdir=${TIMING_WORKDIR:-surrogates/data/collections/resnet8_cifar10_timing}
costs_workdir=${COSTS_WORKDIR:-surrogates/data/collections/resnet8_cifar10_timing_costs}
table=surrogates/data/resnet8_cifar10
timing=surrogates/data/resnet8_cifar10_timing
costs=surrogates/data/resnet8_cifar10_costs
rm -rf "$table" "$timing" "$costs"
python -m surrogates.collect merge --workdir "$workdir" --out "$table" --name resnet8_cifar10 "$@"
python -m surrogates.collect summary --table "$table" > "$table/summary.json"
python -m surrogates.collect merge --workdir "$timing_workdir" --out "$timing" \
    --name resnet8_cifar10_timing
python -m surrogates.collect summary --table "$timing" > "$timing/summary.json"
python -m surrogates.collect merge --workdir "$costs_workdir" --out "$costs" \
    --name resnet8_cifar10_costs
python -m surrogates.collect summary --table "$costs" > "$costs/summary.json"
python scripts/search_xgb_params.py "$table" --timing "$timing" --cost-table "$costs" --write
python -m surrogates.fit "$table" --out "$table/surrogate" --timing "$timing" \
    --cost-table "$costs" --validate
python scripts/bench_surrogate_query.py "$table/surrogate"
python scripts/regression_check.py record
