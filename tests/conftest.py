pytest_plugins = [
    "tests.fixtures.app",
    "tests.fixtures.accounts",
    "tests.fixtures.douyin",
    "tests.fixtures.insights",
    "tests.fixtures.ledger",
    "tests.fixtures.onboarding",
    "tests.fixtures.catalog",
    "tests.fixtures.orders",
    "tests.fixtures.settings",
]


def _hypothesis_profiles() -> None:
    """Property tests: bounded by each test, no deadline (a step is a few queries, slower on
    PostgreSQL), and in CI derandomized (the same examples every run, nothing saved to disk).
    HYPOTHESIS_PROFILE=dev explores new examples locally."""
    import os

    from hypothesis import HealthCheck, settings

    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **common)
    settings.register_profile("dev", **common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


_hypothesis_profiles()
