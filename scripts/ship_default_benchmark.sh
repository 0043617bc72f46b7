#!/usr/bin/env bash
# Rebuild what ships for the default benchmark from a collection working folder, in order:
# the merged table, XGBoost settings (grouped-CV search), the fitted surrogate with its validation
# report, the query-speed figure, and the regression baseline of every method.
#   bash scripts/ship_default_benchmark.sh WORKDIR [--partial]
set -euo pipefail
cd "$(dirname "$0")/.."
workdir=${1:?usage: ship_default_benchmark.sh WORKDIR [--partial]}
shift
table=surrogates/data/resnet8_cifar10
rm -rf "$table"
python -m surrogates.collect merge --workdir "$workdir" --out "$table" --name resnet8_cifar10 "$@"
python -m surrogates.collect summary --table "$table" > "$table/summary.json"
python scripts/search_xgb_params.py "$table" --write
python -m surrogates.fit "$table" --out "$table/surrogate" --validate
python scripts/bench_surrogate_query.py "$table/surrogate"
python scripts/regression_check.py record
