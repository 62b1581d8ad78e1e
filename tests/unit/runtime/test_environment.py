from __future__ import annotations

import pytest
from uvicorn_gunicorn_runtime.environment import (
    Environment,
    SettingError,
    access_log_exclude_paths,
    access_log_flush_seconds,
    decimal_times,
    healthcheck_path,
    invalid,
)

from tests.unit.runtime.readings import setting_error


def test_the_error_names_the_variable_its_value_and_what_was_expected() -> None:
    error = invalid("PORT", "http", "a port")
    assert isinstance(error, ValueError)
    assert str(error) == "PORT='http' is not valid: expected a port"


def test_empty_counts_as_unset_except_for_raw_reads() -> None:
    env = Environment({"EMPTY": "", "SET": "x"})
    assert (env.text("EMPTY"), env.text("SET"), env.text("MISSING")) == (None, "x", None)
    assert env.integer("EMPTY", 7, minimum=0) == 7
    assert (env.raw("EMPTY", "-"), env.raw("MISSING", "-")) == ("", "-")


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "expected"),
    [("0", 0, None, 0), ("08080", 1, 65535, 8080), ("65535", 1, 65535, 65535), ("9" * 20, 0, None, int("9" * 20))],
)
def test_whole_numbers(value: str, minimum: int, maximum: int | None, expected: int) -> None:
    assert Environment({"N": value}).optional_integer("N", minimum, maximum) == expected


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "message"),
    [
        ("0", 1, None, "N='0' is not valid: expected a whole number from 1 up"),
        ("65536", 1, 65535, "N='65536' is not valid: expected a whole number from 1 to 65535"),
        ("1_000", 0, None, "N='1_000' is not valid"),
        ("+3", 0, None, "N='+3' is not valid"),
        (" 8 ", 0, None, "N=' 8 ' is not valid"),
        ("8\n", 0, None, "N='8\\n' is not valid"),
        ("\u0663", 0, None, "N='\u0663' is not valid"),  # ARABIC-INDIC DIGIT THREE
        ("1e3", 0, None, "N='1e3' is not valid"),
        ("9" * 5000, 0, None, "N='999"),  # longer than int() takes: still one line, no traceback
    ],
)
def test_whole_numbers_are_plain_ascii_digits(value: str, minimum: int, maximum: int | None, message: str) -> None:
    assert setting_error(lambda: Environment({"N": value}).optional_integer("N", minimum, maximum)).startswith(message)


@pytest.mark.parametrize(("decimal", "whole", "product"), [("0.57", 100, 57), ("0.29", 100, 29), ("2.5", 3, 7)])
def test_decimal_times_has_no_float_error(decimal: str, whole: int, product: int) -> None:
    assert decimal_times(decimal, whole) == product


@pytest.mark.parametrize(("decimal", "whole", "product"), [(".5", 9, 4), ("3.", 2, 6), ("1", 0, 0)])
def test_decimal_times_takes_every_form_of_a_decimal(decimal: str, whole: int, product: int) -> None:
    assert decimal_times(decimal, whole) == product


def test_choices_and_booleans_in_any_case() -> None:
    env = Environment({"LEVEL": "INFO", "FLAG": "True"})
    assert env.choice("LEVEL", "error", ("error", "info")) == "info"
    assert env.choice("MISSING", "error", ("error", "info")) == "error"
    assert env.boolean("FLAG", default=False) is True
    assert env.boolean("MISSING", default=True) is True
    with pytest.raises(SettingError, match=r"^FLAG='yes' is not valid: expected one of true, false$"):
        Environment({"FLAG": "yes"}).boolean("FLAG", default=False)


@pytest.mark.parametrize(("value", "seconds"), [("", 0.5), ("0", 0.0), ("0.25", 0.25), ("1", 1.0), ("1.0", 1.0)])
def test_access_log_flush_seconds(value: str, seconds: float) -> None:
    assert access_log_flush_seconds(Environment({"ACCESS_LOG_FLUSH_SECONDS": value})) == seconds


@pytest.mark.parametrize("value", ["2", "1.5", "-0.5", "abc", "1e-1"])
def test_access_log_flush_seconds_from_0_to_1(value: str) -> None:
    assert setting_error(lambda: access_log_flush_seconds(Environment({"ACCESS_LOG_FLUSH_SECONDS": value}))) == (
        f"ACCESS_LOG_FLUSH_SECONDS={value!r} is not valid: expected a number of seconds from 0 to 1, such as 0.5"
    )


def test_healthcheck_path_is_none_when_unset() -> None:
    assert healthcheck_path(Environment({})) is None
    assert healthcheck_path(Environment({"HEALTHCHECK_PATH": "/live"})) == "/live"


@pytest.mark.parametrize(
    ("value", "paths"),
    [("", ()), ("/health", ("/health",)), ("/health, /metrics ,/caf\u00e9", ("/health", "/metrics", "/caf\u00e9"))],
)
def test_access_log_exclude_paths(value: str, paths: tuple[str, ...]) -> None:
    assert access_log_exclude_paths(Environment({"ACCESS_LOG_EXCLUDE_PATHS": value})) == paths


@pytest.mark.parametrize("value", ["health", "/health,metrics", "/health,", "/a b", ",/x", "/health,,/metrics"])
def test_access_log_exclude_paths_are_paths(value: str) -> None:
    env = Environment({"ACCESS_LOG_EXCLUDE_PATHS": value})
    assert setting_error(lambda: access_log_exclude_paths(env)) == (
        f"ACCESS_LOG_EXCLUDE_PATHS={value!r} is not valid: expected comma-separated paths, each starting with /,"
        " such as /health,/metrics"
    )
