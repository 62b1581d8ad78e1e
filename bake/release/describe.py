"""Sets a Docker Hub repository's description to the README, through the Hub's HTTP API.

The API's address comes from the caller (the publishing workflow's DOCKERHUB_API
variable), so that no service address is written in this repository.
"""

from __future__ import annotations

import requests

from bake.progress import say
from bake.release.publish import PublishError

# Docker Hub refuses a full description of more bytes (UTF-8), not characters; a longer README
# is an error, never cut short.
MAX_DESCRIPTION = 25_000


def description_size(readme: str) -> int:
    """The size Docker Hub's limit counts: bytes of UTF-8."""
    return len(readme.encode())


def update_description(
    api: str, repository: str, username: str, token: str, readme: str, session: requests.Session
) -> None:
    size = description_size(readme)
    if size > MAX_DESCRIPTION:
        raise PublishError(f"README.md has {size} bytes; Docker Hub takes at most {MAX_DESCRIPTION}")
    login = session.post(f"{api}/v2/users/login", json={"username": username, "password": token}, timeout=30)
    if login.status_code != 200:
        raise PublishError(f"logging in to {api} as {username!r} failed with HTTP {login.status_code}")
    response = session.patch(
        f"{api}/v2/repositories/{repository}/",
        json={"full_description": readme},
        headers={"Authorization": f"JWT {login.json()['token']}"},
        timeout=30,
    )
    if response.status_code != 200:
        raise PublishError(f"updating the description of {repository} failed with HTTP {response.status_code}")
    say(f"description of {repository} set from README.md ({size} bytes)")
