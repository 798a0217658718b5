"""URL settings: what a shared link restores, and how a bad link degrades."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

import quant
from dashboard.model.settings import (
    DEFAULT_K, K_PICKS, SEED_MAX, STRENGTH_STEP, Settings, hex_codes, settings_from_query, settings_to_query,
)

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
    dither=st.sampled_from(list(quant.DITHERS)),
    steps=st.integers(0, 20),
    order=st.sampled_from(quant.ORDERS),
    lock=st.lists(st.integers(0, 0xFFFFFF), max_size=4, unique=True),
    palette=st.lists(st.integers(0, 0xFFFFFF), max_size=256, unique=True),
)
def test_settings_round_trip_through_the_query(methods, k, space, seed, view, dither, steps, order, lock, palette):
    settings = Settings(
        tuple(methods), k, space, seed, view, dither, round(steps * STRENGTH_STEP, 2), order, hexes(lock), hexes(palette)
    )
    assert settings_from_query(settings_to_query(settings), views=VIEWS) == (settings, [])


def hexes(codes: list[int]) -> tuple[str, ...]:
    return tuple(f"#{code:06x}" for code in codes)


def test_dithering_order_locks_and_a_custom_palette_are_restored():
    settings, notices = parse(dither="floyd-steinberg", strength="0.6", order="hue", lock="000,FFFFFF",
                              palette=["e30613", "#00ff00,0000ff"])
    assert (settings.dither, settings.strength, settings.order) == ("floyd-steinberg", 0.6, "hue")
    assert settings.lock == ("#000000", "#ffffff")
    assert settings.palette == ("#e30613", "#00ff00", "#0000ff")
    assert settings.dithers and notices == []
    query = settings_to_query(settings)
    assert query["lock"] == "000000,ffffff" and "#" not in query["palette"]  # a "#" would end the URL's query


def test_a_link_s_strength_is_rounded_to_the_slider_s_step():
    assert parse(strength="0.33")[0].strength == 0.35
    assert parse(strength="0")[0].strength == 0.0 and not parse(dither="atkinson", strength="0")[0].dithers


@pytest.mark.parametrize("key, value", [
    ("dither", "floyd"), ("dither", ""), ("strength", "1.5"), ("strength", "-0.1"), ("strength", "nan"),
    ("strength", "inf"), ("strength", "half"), ("strength", "1" * 40), ("order", "random"),
    ("lock", "#zzzzzz"), ("lock", "000,000"), ("palette", "red,green"), ("palette", ",".join(["abc"] * 2)),
    ("palette", ",".join(f"{i:06x}" for i in range(257))),
])
def test_bad_dithering_order_or_colors_fall_back_with_a_notice(key, value):
    settings, notices = parse(**{key: value})
    assert settings == Settings(view="compare")
    assert len(notices) == 1 and len(notices[0]) < 200 and "\n" not in notices[0]


def test_a_bad_code_in_a_link_is_named_by_its_place_in_the_list_with_no_file_syntax():
    _, notices = parse(lock="ff0000,xyz", palette="zz,00")
    assert notices == [
        "locked colors left out: color 2: 'xyz' is not a hex color; write #rrggbb, rrggbb or #rgb",
        "custom palette left out: color 1: 'zz' is not a hex color; write #rrggbb, rrggbb or #rgb",
    ]


def test_a_link_s_codes_may_be_split_by_commas_or_spaces():
    settings, notices = parse(palette="000000 ffffff,e30613", lock="#abc ")
    assert settings.palette == ("#000000", "#ffffff", "#e30613") and settings.lock == ("#aabbcc",) and not notices


def test_an_empty_palette_or_lock_in_a_link_means_none():
    assert parse(palette="", lock="") == (Settings(view="compare"), [])


def test_hex_codes_are_normalized_and_blank_text_is_no_palette():
    assert hex_codes(" #ABC\n00ff00 ; brand green") == ("#aabbcc", "#00ff00")
    assert hex_codes("  \n ") == ()
    with pytest.raises(quant.PaletteError, match="not a hex color"):
        hex_codes("#12345g")
