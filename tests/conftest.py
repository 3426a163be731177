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
