"""helpers.config and helpers.exceptions: the one vocabulary, the defaults, data folders read at call time, checks."""

import pytest

from helpers import ParameterError, config, data, songs
from helpers.exceptions import check_int


def test_targets_are_checked_against_the_one_list():
    assert config.check_targets("vocals") == ("vocals",)
    assert config.check_targets(["bass", "accompaniment"]) == ("bass", "accompaniment")
    for bad, message in [((), "targets is empty"), (("guitar",), "unknown target 'guitar'; choose from vocals"),
                         (("vocals", "vocals"), "repeats a name")]:
        with pytest.raises(ParameterError, match=message):
            config.check_targets(bad)


def test_residual_names_follow_the_field():
    assert config.residual_name(("bass",)) == "bassless"
    assert config.residual_name(("drums",)) == "drumless"
    assert config.residual_name(("vocals",)) == "accompaniment"
    assert config.residual_name(("vocals", "drums")) == "accompaniment"


def test_data_folders_are_resolved_at_call_time(tmp_path, monkeypatch, small_dataset):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))  # set after every module was imported
    assert config.data_dir() == tmp_path and config.generated_root() == tmp_path / "generated"
    with pytest.raises(ParameterError, match=str(tmp_path / "generated" / "train")):
        data.load_tracks("generated", "train")
    monkeypatch.setenv("COURSE_DATA", str(small_dataset.parent))
    (small_dataset.parent / "generated").symlink_to(small_dataset)
    assert len(data.load_tracks("generated", "train")) == 2
    assert songs.generate(n_train=2, n_test=1, duration=4.0, n_duets_train=1, n_duets_test=1, duet_duration=3.0,
                          workers=1, progress=False, engine="numpy") == small_dataset.parent / "generated"  # reused


@pytest.mark.parametrize("value, minimum, message", [
    (0, 1, "n=0 must be a positive integer"),
    (-1, 0, "n=-1 must be a non-negative integer"),
    (2.0, 1, "n=2.0 must be a positive integer"),
    (True, 1, "n=True must be a positive integer"),
    (1, 2, "n=1 must be an integer >= 2"),
])
def test_check_int_names_the_bad_value(value, minimum, message):
    with pytest.raises(ParameterError, match=message):
        check_int("n", value, minimum=minimum)
    assert check_int("n", 3) == 3
