"""``python -m benchmarks``: run HPO methods on benchmarks (see ``--help``)."""

import sys

from benchmarks.argv import ArgumentError, check_group_choices, check_results_dir, rewrite
from benchmarks.plugins import open_method_settings, register_plugin_configs


def main() -> None:
    try:
        check_group_choices(sys.argv[1:])
        check_results_dir(sys.argv[1:])
        sys.argv = [sys.argv[0], *rewrite(open_method_settings(sys.argv[1:]))]
    except ArgumentError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    from benchmarks.app import hydra_main

    register_plugin_configs()
    hydra_main()


if __name__ == "__main__":
    main()
