"""URL settings: what a shared link restores, and how a bad link degrades."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

import quant
from dashboard.model.settings import DEFAULT_K, K_PICKS, SEED_MAX, Settings, settings_from_query, settings_to_query

VIEWS = ["compare", "color-space"]


def parse(**query):
    return settings_from_query(query, views=VIEWS)


def test_empty_query_gives_the_study_defaults_without_notices():
    settings, notices = parse()
    assert settings == Settings(methods=quant.STUDY_METHODS, k=8, space="rgb", seed=0, view="compare")
    assert notices == []


def test_a_full_link_is_restored():
    settings, notices = parse(methods="octree,kmeans", k="64", space="oklab", seed="42", view="color-space")
    assert settings == Settings(("octree", "kmeans"), 64, "oklab", 42, "color-space")
    assert notices == []


def test_repeated_method_parameters_and_duplicates():
    settings, _ = parse(methods=["gmm", "kmeans,gmm"])
    assert settings.methods == ("gmm", "kmeans")


@pytest.mark.parametrize("k", ["999", "1", "0", "-8", "8.5", "eight", "", "1e2", "٨", "9" * 30])
def test_bad_k_falls_back_with_a_notice(k):
    settings, notices = parse(k=k)
    assert settings.k == DEFAULT_K
    assert len(notices) == 1 and "k=" in notices[0]


def test_unknown_methods_are_left_out_and_named():
    settings, notices = parse(methods="kmeans,deep-dream")
    assert settings.methods == ("kmeans",)
    assert len(notices) == 1 and "deep-dream" in notices[0]


@pytest.mark.parametrize("methods", ["nope", "", ",,"])
def test_no_known_method_restores_the_study_methods(methods):
    settings, notices = parse(methods=methods)
    assert settings.methods == quant.STUDY_METHODS
    assert notices and "study" in notices[-1]


@pytest.mark.parametrize("key, value", [("space", "hsv"), ("seed", "-1"), ("seed", str(SEED_MAX + 1)),
                                        ("seed", "abc"), ("view", "cluster-maps")])
def test_other_bad_values_fall_back_with_a_notice(key, value):
    settings, notices = parse(**{key: value})
    assert settings == Settings(view="compare")
    assert len(notices) == 1


def test_unknown_keys_are_ignored():
    assert parse(utm_source="mail", fbclid="x") == (Settings(view="compare"), [])


def test_notices_quote_long_or_multiline_values_briefly():
    _, notices = parse(space="x" * 500 + "\n" + "y")
    assert len(notices[0]) < 120 and "\n" not in notices[0]


def test_quick_picks_are_the_powers_of_two_in_range():
    assert K_PICKS == (2, 4, 8, 16, 32, 64, 128, 256)
    assert K_PICKS[0] == quant.K_MIN and K_PICKS[-1] == quant.K_MAX


@given(
    methods=st.lists(st.sampled_from(list(quant.METHODS)), min_size=1, unique=True),
    k=st.integers(quant.K_MIN, quant.K_MAX),
    space=st.sampled_from(list(quant.SPACES)),
    seed=st.integers(0, SEED_MAX),
    view=st.sampled_from(VIEWS),
)
def test_settings_round_trip_through_the_query(methods, k, space, seed, view):
    settings = Settings(tuple(methods), k, space, seed, view)
    assert settings_from_query(settings_to_query(settings), views=VIEWS) == (settings, [])
