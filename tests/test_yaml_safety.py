"""Configs are read with a strict safe loader: no alias bombs, no duplicate keys, no silent empty runs."""
import time

import pytest

from scoreuq.cli import main

LAUGHS = ('data: {name: gaussian_mixture}\n'
          'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
          + "".join(f'{k}: &{k} [{",".join(["*" + p] * 9)}]\n' for p, k in zip("abcdefgh", "bcdefghi")))


@pytest.mark.parametrize("text, message", [
    (LAUGHS, "aliases"),
    ("data: {name: gaussian_mixture}\ntrain: {epochs: 2}\ntrain: {epochs: 3}\n", "duplicate key 'train'"),
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("- a\n- b\n", "mapping"),
])
@pytest.mark.parametrize("command", ["train", "study"])
def test_bad_yaml_exits_2_fast_and_writes_nothing(tmp_path, capsys, text, message, command):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    t0 = time.perf_counter()
    assert main([command, str(cfg), "--out", str(out)]) == 2
    assert time.perf_counter() - t0 < 30  # the alias bomb is refused before it expands (it used to hang for minutes)
    err = capsys.readouterr().err
    assert message in err and str(cfg) in err
    assert not out.exists()


def test_set_value_with_alias_is_refused(tmp_path, capsys):
    assert main(["study", "sample-size", "--dry-run", "--out", str(tmp_path / "s"), "--set", "data.params=[*x]"]) == 2
    assert "alias" in capsys.readouterr().err
