"""Connects the domains to the shared hooks at start-up: callback keys, webhook and outbox
handlers, notification delivery. Each module listed here registers its handlers on import."""

from importlib import import_module

HANDLER_MODULES: tuple[str, ...] = (
    "portal.insights.receivers",
    "portal.ledger.handlers",
    "portal.catalog.handlers",
    "portal.orders.handlers",
    "portal.redemption.handlers",
    "portal.settings.handlers",
)


def init_app(app) -> None:
    from portal.douyin import webhooks
    from portal.onboarding.connection import callback_keys

    webhooks.configure(callback_keys)
    for module in HANDLER_MODULES:
        import_module(module)
