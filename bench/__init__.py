"""Benchmarks: printed figures, never asserts. Run one with `python -m bench.<name>`."""

from __future__ import annotations

import statistics
import time


def pages_side_by_side(
    pages: list[tuple[object, str, dict | None]], n: int, *, warm: int = 3, balanced: bool = False
) -> list[tuple[float, float, int]]:
    """Median CPU and wall milliseconds per request, and the response size, of each (test client,
    url, headers). The pages take turns request by request, so that a busy moment of the machine
    weighs on all of them alike. Each is requested `warm` times first (templates compiled, caches
    filled). `balanced` turns the order round every other turn, so that no page always follows the
    same one (a request after a heavier one pays for its leftovers: when comparing microseconds)."""
    for client, url, headers in pages:
        for _ in range(warm):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.status_code)
    cpu: list[list[float]] = [[] for _ in pages]
    wall: list[list[float]] = [[] for _ in pages]
    sizes = [0] * len(pages)
    order = list(enumerate(pages))
    for turn in range(n):
        for i, (client, url, headers) in reversed(order) if balanced and turn % 2 else order:
            c0, w0 = time.process_time(), time.perf_counter()
            response = client.get(url, headers=headers)
            cpu[i].append(time.process_time() - c0)
            wall[i].append(time.perf_counter() - w0)
            assert response.status_code == 200, (url, response.status_code)
            sizes[i] = len(response.data)
    return [(statistics.median(c) * 1000, statistics.median(w) * 1000, size) for c, w, size in zip(cpu, wall, sizes)]
