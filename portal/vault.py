"""Encryption at rest for merchant secrets (AppSecret, private keys, payment salt and token)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


def _fernet() -> Fernet:
    return Fernet(current_app.config["SECRETS_FERNET_KEY"].encode())


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str | None) -> str | None:
    """The plaintext, or None when there is nothing stored or the key no longer opens it."""
    if not ciphertext:
        return None
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def mask(secret: str | None, visible: int = 4) -> str:
    """"abcdef123456" -> "••••••••3456": enough to recognise, never enough to use."""
    if not secret:
        return ""
    return "•" * 8 + secret[-visible:]
