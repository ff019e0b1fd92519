"""The separator as a web app (``make app``, ``python -m helpers.app``, or :func:`start` in a notebook).

See :mod:`helpers.app.server` for the parts (FastAPI page and JSON API, SQLite store, worker pool) and the README's
"The web app" section for how to run it for a class.

Taught in: notebooks/06_separate_your_song.ipynb
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from helpers.app.server import Settings, create_app

__all__ = ["Settings", "create_app", "start", "main"]


def start(*, port: int | None = None, host: str = "127.0.0.1", settings: Settings | None = None, show: bool = True):
    """Start the app in a background thread of this kernel and show it (Colab: through its port proxy).

    Taught in: notebooks/06_separate_your_song.ipynb

    Parameters
    ----------
    port : int or None
        ``None`` picks a free one.
    host : str
    settings : Settings or None
    show : bool
        Display the page in the notebook (an iframe locally, Colab's own frame in Colab).

    Returns
    -------
    url : str
        Where the app answers.
    """
    import socket

    import uvicorn

    if port is None:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True, name="separator-app").start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    url = f"http://{host}:{port}/"
    if show and "google.colab" in sys.modules:
        from google.colab import output

        output.serve_kernel_port_as_iframe(port, height=800)
    elif show:
        from IPython.display import IFrame, display

        display(IFrame(url, width="100%", height=800))
    return url


def main(argv=None) -> int:
    """``python -m helpers.app``: serve the app (``make app``).

    Used by: helpers.app.__main__
    """
    import uvicorn

    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m helpers.app", description="The separator as a web app.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s; 0.0.0.0 serves a classroom)")
    parser.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    parser.add_argument("--root", default=None, help="database and files (default: data/app)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="separations at once (default: 1)")
    parser.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="default: 100")
    parser.add_argument("--quota-mb", type=float, default=defaults.quota_mb, help="per user (default: 2000)")
    parser.add_argument("--retention-days", type=float, default=defaults.retention_days, help="default: 7")
    parser.add_argument("--max-active", type=int, default=defaults.max_active,
                        help="separations one user may have queued or running (default: 3)")
    parser.add_argument("--model", default=None, help="a .keras model saved by the course (default: the shipped U-Net)")
    args = parser.parse_args(argv)
    settings = Settings(root=args.root, workers=args.workers, max_upload_mb=args.max_upload_mb,
                        quota_mb=args.quota_mb, retention_days=args.retention_days, max_active=args.max_active,
                        model=args.model)
    print(f"the separator app: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0
