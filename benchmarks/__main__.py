"""``python -m benchmarks``: run HPO methods on benchmarks (see ``--help``)."""

import sys

from benchmarks.argv import ArgumentError, rewrite


def main() -> None:
    try:
        sys.argv = [sys.argv[0], *rewrite(sys.argv[1:])]
    except ArgumentError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    from benchmarks.app import hydra_main

    hydra_main()


if __name__ == "__main__":
    main()
