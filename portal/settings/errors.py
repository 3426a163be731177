from portal.errors import DomainError


class SettingsError(DomainError):
    """A settings rule was broken; the message is safe to show. `field` names the form field, if any."""
