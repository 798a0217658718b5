"""Animations onto your own palette (`quant.animation`): every frame is what a still of it gives with those colors.

The written GIF is compared byte for byte with one encoded from a reference
built the plain way: the palette sorted as `--sort` says (by frequency: the
pixels of every frame, each mapped alone to the file's colors), then each
frame quantized alone onto the sorted palette. The frames hold colors
exactly halfway between two palette colors, where which one a pixel gets
depends on the palette's order: a shortcut that maps a frame to the file's
order and renumbers the indices afterwards picks the other color there.
"""

from __future__ import annotations

import numpy as np
import pytest

import quant
from quant import batch
from quant.animation import Animation, _encode, quantize_animation
from quant.palette import ORDERS, order_colors
from quant.palette_file import as_colors

#: Even grays and two colors, not in any of the orders `--sort` makes.
PALETTE = ("#c80000", *(f"#{v:02x}{v:02x}{v:02x}" for v in range(30, -1, -2)), "#0000c8")


def tied_frames(transparent: bool) -> Animation:
    """Three frames of odd grays (each halfway between two of `PALETTE`'s grays), some red, a blue corner, and
    (if `transparent`) a transparent stripe; each frame's share of each color differs, so frequency decides."""
    y, x = np.mgrid[0:8, 0:24]
    frames = []
    for shift in range(3):
        gray = 2 * ((x + 5 * shift) % 15) + 1
        rgb = np.repeat(gray[..., None], 3, axis=-1).astype(np.uint8)
        rgb[: 2 + shift, : 4 * (shift + 1)] = [190, 10, 10]
        rgb[-2:, -3:] = [0, 0, 210]
        opaque = (x != 7) | (y % 2 == 1) if transparent else None
        frames.append(quant.from_array(rgb, opaque))
    return Animation(tuple(frames), (40, 50, 60), 0)


def plain_way(animation: Animation, options: batch.Options) -> bytes:
    """The GIF the animation should be: sorted palette first, then each frame alone onto it."""
    colors = as_colors(options.palette)
    if options.order == "frequency":
        alone = [quant.quantize(frame, palette=colors, space=options.space) for frame in animation.frames]
        pixels = sum(result.pixel_counts for result in alone)
    else:
        pixels = np.zeros(len(colors))
    ordered = colors[order_colors(colors, pixels, options.order, given=len(colors))]  # all of them given
    results = [
        quant.quantize(frame, palette=ordered, space=options.space, **options.dither_keywords())
        for frame in animation.frames
    ]
    return _encode(animation, results, options)


@pytest.mark.parametrize("transparent", [False, True], ids=["opaque", "transparent"])
@pytest.mark.parametrize("frame_palettes", [False, True], ids=["one-table", "local-tables"])
@pytest.mark.parametrize("dither", ["none", "floyd-steinberg"])
@pytest.mark.parametrize("order", ORDERS)
def test_your_palette_maps_every_frame_as_a_still_of_it_would_be_in_every_order(
    order, dither, frame_palettes, transparent
):
    animation = tied_frames(transparent)
    options = batch.Options(frames="all", palette=PALETTE, order=order, dither=dither, frame_palettes=frame_palettes)
    assert quantize_animation(animation, options).gif == plain_way(animation, options)


def test_renumbering_a_mapping_to_the_files_order_is_not_the_same_at_ties():
    """Why each frame is mapped onto the sorted palette: a color halfway between two palette colors goes to the
    first of them the nearest-color search meets, so the palette's order decides, and the frames above hold
    such colors (else the matrix above could not tell the two ways apart)."""
    colors = as_colors(PALETTE)
    frames = tied_frames(transparent=False).frames
    in_file_order = [quant.quantize(frame, palette=colors) for frame in frames]
    permutation = order_colors(colors, sum(result.pixel_counts for result in in_file_order), "frequency")
    rank = np.empty(len(colors), np.uint8)
    rank[permutation] = np.arange(len(colors))
    onto_sorted = [quant.quantize(frame, palette=colors[permutation]) for frame in frames]
    renumbered = [rank[result.indices] for result in in_file_order]
    assert any((a != b.indices).any() for a, b in zip(renumbered, onto_sorted, strict=True))
    sorted_colors = colors[permutation].astype(int)
    for frame, a, b in zip(frames, renumbered, onto_sorted, strict=True):  # they differ only at ties
        differ = a != b.indices
        original = frame.rgb[differ].astype(int)
        distance_a = ((original - sorted_colors[a[differ]]) ** 2).sum(axis=1)
        distance_b = ((original - sorted_colors[b.indices[differ]]) ** 2).sum(axis=1)
        np.testing.assert_array_equal(distance_a, distance_b)
