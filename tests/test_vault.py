from portal import vault


def test_secrets_are_encrypted_and_masked(app):
    with app.app_context():
        token = vault.encrypt("my-app-secret-123456")
        assert "my-app-secret" not in token
        assert vault.decrypt(token) == "my-app-secret-123456"
        assert vault.decrypt("garbage") is None
        assert vault.mask("my-app-secret-123456") == "••••••••3456"
