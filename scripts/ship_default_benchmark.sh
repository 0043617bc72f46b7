#!/usr/bin/env bash
# Rebuild what ships for the default benchmark from a collection working folder, in order:
# the merged table, the merged timing table (epoch times measured apart on a quiet machine, from
# TIMING_WORKDIR, default surrogates/data/collections/resnet8_cifar10_timing), XGBoost settings
# (grouped-CV search), the fitted surrogate with its validation report, the query-speed figure,
# and the regression baseline of every method.
#   bash scripts/ship_default_benchmark.sh WORKDIR [--partial]
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
python scripts/search_xgb_params.py "$table" --timing "$timing" --write
python -m surrogates.fit "$table" --out "$table/surrogate" --timing "$timing" --validate
python scripts/bench_surrogate_query.py "$table/surrogate"
python scripts/regression_check.py record
