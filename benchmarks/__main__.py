"""``python -m benchmarks``: run HPO methods on benchmarks (see ``--help``)."""

import sys

from benchmarks.argv import ArgumentError, check_arguments, rewrite
from benchmarks.plugins import open_method_settings, register_plugin_configs


def main() -> None:
    try:
        check_arguments(sys.argv[1:])
        sys.argv = [sys.argv[0], *rewrite(open_method_settings(sys.argv[1:]))]
    except ArgumentError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    from benchmarks.app import hydra_main
    from benchmarks.sweep import SweepLog, report

    register_plugin_configs()
    with SweepLog() as log:
        code = 0
        try:
            hydra_main()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        outcomes = log.read()
    out, errors = report(outcomes)
    for line in errors:
        print(line, file=sys.stderr)
    for line in out:
        print(line)
    if errors and code == 0:
        code = 2
    sys.exit(code)


if __name__ == "__main__":
    main()
