import pytest


@pytest.fixture
def request_context(app, db):
    """Lazy (translatable) messages are rendered in a request, as in a view."""
    with app.test_request_context():
        yield
