"""helpers.train: the training command's bad arguments exit with 2 and one line."""

import pytest

from helpers import train


@pytest.mark.parametrize("argv, message", [
    (["--targets", "guitar"], "unknown target 'guitar'"),
    (["--model-path", "model.h5"], "must end in .keras"),
])
def test_train_cli_rejects_bad_arguments_with_exit_code_2(capsys, argv, message):
    assert train.main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("train: error: ") and message in error and len(error.strip().splitlines()) == 1
