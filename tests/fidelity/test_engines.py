"""OCR engines: a line reads the same whatever else is on its page."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from router.fidelity.engines import get_engine
from router.fidelity.readback import normalise
from router.fidelity.reading_order import in_reading_order
from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Typesetting
from router.tools.calibrate import _probe_density
from router.tools.calibration_samples import corpus


def test_a_line_reads_the_same_on_a_short_page_and_a_tall_one() -> None:
    """RapidOCR's detector used to upscale an image until its shorter side was 736 px: the first
    lines of the Latin calibration sample at 10 px, cut to a strip of about 60 px, were read at 12x; the same
    strip on a 1,500-px page at 1x, where letters were lost ("confrm", "https:/"). The engine now
    reads every image at one scale."""
    sample = corpus()["latin"][0]
    target = RenderTarget(get_profile("anthropic"), _probe_density("latin", Typesetting(em_px=10, line_height=1.1)))
    page = render_text(sample.text, sample.kind, sample.script, sample.language, target).pages[0]
    assert not page.gutters  # one column: its tables keep it so
    image = Image.open(io.BytesIO(page.png)).convert("RGB")
    # Cut at the first blank row from 60 px down: a line cut in half reads differently at any scale.
    ink = (np.asarray(image.convert("L")) < 160).sum(axis=1)
    bottom = next(row for row in range(60, image.height) if ink[row] == 0)
    short = image.crop((0, 0, page.width, bottom))
    tall = Image.new("RGB", (short.width, 1500), "white")
    tall.paste(short, (0, 0))
    engine = get_engine("rapidocr")

    def read(image: Image.Image) -> str:
        return normalise(in_reading_order(engine.boxes(image, "latin")))

    assert read(short) == read(tall)
    assert "confirmthat" in read(tall) and "https://downloads" in read(tall)
