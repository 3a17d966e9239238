import pytest

from glioma.ids import is_valid_id, validate_id


@pytest.mark.parametrize("value", ["TCGA-02-0003", "0001", "123", "EGD_0042", "a"])
def test_valid_ids_pass_unchanged(value):
    assert validate_id(value) == value
    assert is_valid_id(value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("../etc", "path separator"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("a.b", "characters outside"),
        ("", "empty"),
        ("-lead", "characters outside"),
        ("x" * 65, "longer than"),
        ("naïve", "characters outside"),
    ],
)
def test_invalid_ids_say_why(value, fragment):
    with pytest.raises(ValueError, match=fragment):
        validate_id(value)
    assert not is_valid_id(value)


def test_numeric_id_stays_string():
    assert validate_id("007") == "007"
    with pytest.raises(ValueError):
        validate_id(7)  # type: ignore[arg-type]
