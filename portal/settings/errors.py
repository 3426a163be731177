class SettingsError(Exception):
    """A settings rule was broken; the message is safe to show. `field` names the form field, if any."""

    field: str | None = None

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        if field:
            self.field = field
