"""Run benchmarks by name, or all of them: `python -m bench [catalog_page counter_redeem ...]`.

Each prints its own figures; nothing here asserts a speed.
"""

import runpy
import sys
import time

BENCHMARKS = ("catalog_page", "catalog_sync", "counter_cpu", "counter_redeem", "insights_page", "ledger_settle", "ops_overhead", "orders_million", "page_weight")


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in names or BENCHMARKS:
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.monotonic()
        saved = sys.argv
        sys.argv = [f"bench.{name}"]
        try:
            runpy.run_module(f"bench.{name}", run_name="__main__")
        finally:
            sys.argv = saved
        print(f"=== bench.{name} took {time.monotonic() - started:.0f} s ===", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
