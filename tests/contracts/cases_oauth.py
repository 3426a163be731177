from portal.douyin import replies

from .harness import Case

CASES = [
    Case(
        fixture="client_token",
        call=lambda client: client.fetch_client_token(),
        reply=replies.CLIENT_TOKEN,
        sandbox=lambda world, fixture: {"tt0123456789abcdef": world.appid, "secret": world.secret},
    ),
]
