import pytest


@pytest.fixture(autouse=True)
def request_context(app):
    """Services format Chinese messages (lazy_gettext); the locale selector reads the request."""
    with app.test_request_context():
        yield
