from dataclasses import replace

import numpy as np
import pytest

from stickpose.data.suites import SuiteError, known_suites, load_suite
from stickpose.errors import StickposeError

DESIGN = {  # design.md section 5
    "test1": (0.0, 0.0, 0.0), "test2": (0.5, 0.0, 0.0),
    "test3": (0.75, 0.5, 0.0), "test4": (0.25, 0.25, 1.0),
}


def test_stickman_suite_matches_the_design():
    suite = load_suite("stickman")
    assert "stickman" in known_suites()
    for name, (circles, squares, backgrounds) in DESIGN.items():
        spec = suite.sets[name]
        config = spec.config
        assert (config.circles, config.squares, config.backgrounds) == (circles, squares,
                                                                        backgrounds)
        assert config.size == 224 and spec.count == 1000 and config.placement == "stretch"
        assert config.occluders == 0.0
    seeds = [spec.seed for spec in suite.sets.values()]
    assert len(set(seeds)) == len(seeds)
    assert "validation" in suite.sets
    train = suite.streams["train"]
    assert (train.config.circles, train.config.squares, train.config.backgrounds) == (
        0.5, 0.3, 0.9)
    assert train.count is None


def test_unknown_suite_lists_known():
    with pytest.raises(SuiteError, match="unknown suite 'nope'; known suites: .*stickman"):
        load_suite("nope")


def test_user_suite_with_relative_pose_bank(tmp_path):
    (tmp_path / "poses").mkdir()
    np.save(tmp_path / "poses" / "bank.npy", np.random.default_rng(0).uniform(0, 9, (4, 16, 2)))
    (tmp_path / "mine.toml").write_text(
        '[suite]\nname = "mine"\n[defaults]\nsize = 48\ncount = 5\nposes = "poses/bank.npy"\n'
        '[sets.easy]\nseed = 3\n[sets.hard]\nseed = 4\ncircles = 0.9\nplacement = "fit"\n')
    suite = load_suite(str(tmp_path / "mine.toml"))
    assert suite.name == "mine" and list(suite.sets) == ["easy", "hard"]
    assert suite.sets["hard"].config.placement == "fit"
    assert suite.sets["easy"].config.poses == str(tmp_path / "poses" / "bank.npy")


@pytest.mark.parametrize("text, message", [
    ("[sets.a]\nseed = 1\ncount = 2\nsquare = 0.5\n", "unknown setting.*square"),
    ("[sets.a]\ncount = 2\n", "needs an integer seed"),
    ("[sets.a]\nseed = 1\n", "needs a positive integer count"),
    ("[sets.a]\nseed = 1\ncount = 2\ncircles = 3\n", r"bad.toml \[a\]: circles probability 3"),
    ("[sets.a]\nseed = 1\ncount = 2\nsize = 30\n", r"bad.toml \[a\]: size 30 is too small"),
    ("[sets.a]\nseed = -4\ncount = 2\n", "needs an integer seed from 0 to 2\\^32 - 1, got -4"),
    ("[suite]\nname = 'x'\n", r"no \[sets.NAME\] table"),
    ("[set.a]\nseed = 1\n", "unknown table"),
    ("[sets.a\n", "not valid TOML"),
    ("sets = 3\n", r"\[sets\] must be a table"),
    ("defaults = 'x'\n[sets.a]\nseed = 1\ncount = 2\n", r"\[defaults\] must be a table"),
    ("[sets]\na = 5\n", r"\[sets.a\] must be a table"),
    ("[suite]\nversion = 'x'\n[sets.a]\nseed = 1\ncount = 2\n", "version 'x' is not an integer"),
    ("[sets.'../../escape']\nseed = 1\ncount = 2\n", "a set's name is a plain name"),
    ("[sets.a]\nseed = 1\ncount = 2\nsize = 64.5\n", "size 64.5 is not a whole number"),
    ("[streams.'a/b']\nseed = 1\n[sets.a]\nseed = 1\ncount = 2\n", "plain name"),
])
def test_bad_suite_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(StickposeError, match=message):
        load_suite(str(path))


def test_only_built_in_suites_are_canonical_data(tmp_path):
    from stickpose.data.sets import suite_sets

    builtin = load_suite("stickman")
    copy = tmp_path / "stickman.toml"              # a user's edited copy keeps the name
    copy.write_text(builtin.path.read_text())
    mine = load_suite(str(copy))
    assert mine.name == "stickman"
    assert [s.canonical for s in suite_sets(builtin, ["test1"], 4)] == [True]
    [own] = suite_sets(mine, ["test1"], 4)
    assert not own.canonical and str(copy) in own.source


def test_a_suite_extends_another_key_by_key(tmp_path):
    (tmp_path / "noisy.toml").write_text(
        '[suite]\nname = "noisy"\nversion = 3\nextends = "stickman"\n'
        '[defaults]\nsize = 96\n[sets.test2]\ncircles = 0.9\n'
        '[sets.extra]\nseed = 9\ncount = 5\n')
    base, suite = load_suite("stickman"), load_suite(tmp_path / "noisy.toml")
    assert (suite.name, suite.version) == ("noisy", 3)
    assert set(suite.sets) == set(base.sets) | {"extra"} and set(suite.streams) == set(base.streams)
    assert suite.sets["test2"].config.circles == 0.9 and suite.sets["test2"].config.size == 96
    assert suite.sets["test3"].config == replace(base.sets["test3"].config, size=96)
    assert suite.sets["test3"].seed == base.sets["test3"].seed


@pytest.mark.parametrize("extends, message", [
    ('"nosuch"', "unknown suite 'nosuch'"), ("3", "extends 3 is not a suite name"),
    ('"loop.toml"', "extends it back"), ('"missing.toml"', "does not exist")])
def test_bad_extends(tmp_path, extends, message):
    (tmp_path / "loop.toml").write_text(f'[suite]\nextends = {extends}\n[sets.a]\nseed = 1\ncount = 1\n')
    with pytest.raises(SuiteError, match=message):
        load_suite(tmp_path / "loop.toml")
