"""IMAGE_NAME, DATE and BASE are read once, checked, and named in a one-line error."""

from __future__ import annotations

from datetime import date

import pytest

from bake.core.settings import DEFAULT_IMAGE_NAME, BaseMode, Settings, SettingsError, settings_from_environment

TODAY = date(2026, 11, 25)


def _from(environ: dict[str, str]) -> Settings:
    return settings_from_environment(environ, lambda: TODAY)


def test_unset_or_empty_variables_take_the_defaults() -> None:
    expected = Settings(DEFAULT_IMAGE_NAME, TODAY, BaseMode.AUTO)
    assert _from({}) == expected
    assert _from({"IMAGE_NAME": "", "DATE": "", "BASE": ""}) == expected


def test_the_environment_sets_every_setting() -> None:
    settings = _from({"IMAGE_NAME": "registry.example:5000/acme/ug", "DATE": "2024-02-29", "BASE": "standin"})
    assert settings == Settings("registry.example:5000/acme/ug", date(2024, 2, 29), BaseMode.STANDIN)
    assert settings.date_tag == "2024-02-29"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DATE": "2026-13-01"}, "DATE='2026-13-01' is not valid: expected YYYY-MM-DD"),
        ({"DATE": "2026-11-24T00:00"}, "DATE='2026-11-24T00:00' is not valid: expected YYYY-MM-DD"),
        ({"DATE": "24-11-2026"}, "DATE='24-11-2026' is not valid: expected YYYY-MM-DD"),
        ({"BASE": "nope"}, "BASE='nope' is not valid: expected one of auto, official, standin"),
        ({"IMAGE_NAME": "acme/ug:tag"}, "IMAGE_NAME='acme/ug:tag' is not valid: expected a repository such as"),
        ({"IMAGE_NAME": "Acme/UG"}, "IMAGE_NAME='Acme/UG' is not valid: expected a repository such as"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        _from(environ)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_an_option_overrides_its_variable_and_is_named_in_errors() -> None:
    settings = _from({"DATE": "2026-11-24", "IMAGE_NAME": "acme/ug"})
    assert settings.overridden(build_date="2027-11-01").build_date == date(2027, 11, 1)
    assert settings.overridden(image_name="other/ug").image_name == "other/ug"
    assert settings.overridden() == settings
    with pytest.raises(SettingsError, match=r"^--date='soon' is not valid: expected YYYY-MM-DD$"):
        settings.overridden(build_date="soon")
    with pytest.raises(SettingsError, match=r"^--base='x' is not valid"):
        settings.overridden(base_mode="x")
