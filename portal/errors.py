"""Domain errors, and error pages in the user's language; a 500 never leaks a traceback."""

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from portal.extensions import db


class DomainError(Exception):
    """A rule was broken; the message is safe to show. `field` names the form field it belongs
    to, if any (a subclass may set a default)."""

    field: str | None = None

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        if field:
            self.field = field


def init_app(app: Flask) -> None:
    def page(code: int, template: str, **context):
        return render_template(template, **context), code

    @app.errorhandler(400)
    def bad_request(error):
        return page(400, "errors/400.html", reason=getattr(error, "description", ""))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return page(400, "errors/400.html", reason="csrf")

    @app.errorhandler(403)
    def forbidden(error):
        return page(403, "errors/403.html")

    @app.errorhandler(404)
    def not_found(error):
        return page(404, "errors/404.html")

    @app.errorhandler(413)
    def too_large(error):
        return page(413, "errors/413.html")

    @app.errorhandler(422)
    def unprocessable(error):
        return page(422, "errors/422.html")

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return page(500, "errors/500.html")
