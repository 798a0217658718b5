"""libimagequant file to file: `python -m bench.liq_file IN.png OUT.png K`.

The reference for the CLI's file-to-file time: a whole process that imports
Pillow and imagequant, decodes the PNG, quantizes with libimagequant's
defaults (dithering 1.0, max_quality 100: the `liq-default` of every other
ratio in the benchmark) and saves the PNG8 with Pillow's defaults. Nothing else
is imported, so its start-up is what a small script using libimagequant pays.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import imagequant
    from PIL import Image

    source, target, k = argv[0], argv[1], int(argv[2])
    with Image.open(source) as image:
        rgba = image.convert("RGBA")
    imagequant.quantize_pil_image(rgba, max_colors=k).save(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
