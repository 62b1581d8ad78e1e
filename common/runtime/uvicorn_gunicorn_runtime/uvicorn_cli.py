"""Uvicorn's own command line (`uvicorn ARGS`), run by the launcher as
`python -m uvicorn_gunicorn_runtime.uvicorn_cli ARGS` under the server's interpreter: a virtual
environment's gets the image's packages after its own first (see virtual_env), and whatever
`uvicorn` PATH holds plays no part."""

from __future__ import annotations

import os

from uvicorn_gunicorn_runtime.virtual_env import add_image_packages

if __name__ == "__main__":
    add_image_packages(os.environ)
    from uvicorn.main import main

    main(prog_name="uvicorn")
