"""Uvicorn's own command line (`uvicorn ARGS`), run by the launcher as
`python -m uvicorn_gunicorn_runtime.uvicorn_cli ARGS` under the server's interpreter: a virtual
environment's gets the image's packages after its own first (see virtual_env), and whatever
`uvicorn` PATH holds plays no part. Uvicorn's workers (spawned, not forked) import this module
again, and so load WebSocket support lazily as the launcher's process does (see lazy_websockets).
"""

from __future__ import annotations

import os

from uvicorn_gunicorn_runtime.virtual_env import add_image_packages

add_image_packages(os.environ)

from uvicorn_gunicorn_runtime.lazy_websockets import load_websockets_lazily  # noqa: E402  # after the packages

load_websockets_lazily()

if __name__ == "__main__":
    from uvicorn.main import main

    main(prog_name="uvicorn")
