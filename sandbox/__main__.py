"""python -m sandbox: run the Douyin sandbox on 127.0.0.1:$SANDBOX_PORT (default 5055)."""
import argparse
import os
import socket

from . import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Douyin sandbox")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", "5055")),
                        help="port on 127.0.0.1 (default $SANDBOX_PORT or 5055; 0 = any free port)")
    port = parser.parse_args().port
    if port == 0:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    app = create_app()
    print(f"Douyin sandbox on http://127.0.0.1:{port}/  (console /console/, consumer /consumer/)", flush=True)
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
