from __future__ import annotations

from bake.hcl import BAKE_FILE, render_bake_file
from bake.matrix import load_matrix


def test_committed_bake_file_is_up_to_date_with_the_data() -> None:
    assert BAKE_FILE.read_text() == render_bake_file(load_matrix()), "run: nox -s generate"


def test_every_image_is_a_target_in_the_default_group() -> None:
    text = render_bake_file(load_matrix())
    for image in load_matrix().images:
        assert f'target "{image.target}" {{' in text
        assert f'BASE_IMAGE     = "{image.official_base}"' in text
