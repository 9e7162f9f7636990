"""Table columns fit the page: a column held at its floor width does not push the table past it."""

from __future__ import annotations

from router.render.tables import _column_floors, table_widths

ROWS = [
    ["Credential", "Usage", "Reference", "Notes"],
    [
        "[`InteractiveBrowserCredential`][interactive_cred_ref]",
        "Interactively authenticates a user with the default system browser.",
        "[OAuth2 authentication code](https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow)",
        "`InteractiveBrowserCredential` doesn't support GitHub Codespaces. As a workaround, use "
        "[`DeviceCodeCredential`][device_code_cred_ref].",
    ],
    ["[`DeviceCodeCredential`][device_code_cred_ref]", "Interactively authenticates a user on devices.", "x", ""],
]


def test_widths_never_exceed_the_page_when_floors_hold() -> None:
    floors = _column_floors(ROWS, 7.5)
    assert sum(floors) < 420  # narrower pages split the table into column groups (split_wide_tables)
    for width in (420, 504, 760):
        widths = table_widths(ROWS, width, 7.5)
        assert sum(widths) <= width, (width, widths)
        assert all(w >= int(f) for w, f in zip(widths, floors, strict=True))


def test_short_columns_give_way_to_a_key_column_held_at_its_floor() -> None:
    """A price sheet's six columns at 13 px on a 502-px column: the narrow numeric columns fit at their
    natural widths, the key column of long instance names only at its floor; together they ran 21 px
    past the page, and the cut-off cells failed the completeness check."""
    rows = [["Instance type", "Region", "vCPU", "Memory GiB", "Max IOPS", "Net Gbps"]]
    rows += [["burst-l1.16xlarge-ea", "ap-northeast-3", "192", "1536", "256000", "1.25"]] * 3
    floors = _column_floors(rows, 13)
    assert sum(floors) < 502
    widths = table_widths(rows, 502, 13)
    assert sum(widths) <= 502, widths
    assert all(w >= int(f) for w, f in zip(widths, floors, strict=True))


def test_text_width_is_pymupdfs_text_length_to_the_bit() -> None:
    """Column widths come from cached per-character advances; they must equal what PyMuPDF measures,
    so the pages' bytes do not change (fallback fonts for CJK and symbols included)."""
    import random

    import pymupdf

    from router.render.tables import text_width

    font = pymupdf.Font("figo")
    rng = random.Random(7)
    samples = ["", "M" * 4, "1024-x-1024/50-steps/bedrock", "中文混合 text ①→", "Ünïcödé façade"]
    samples += ["".join(chr(rng.randint(32, 0x9FFF)) for _ in range(40)) for _ in range(100)]
    for text in samples:
        for em in (8.5, 11.0, 13.37):
            assert text_width(text, em) == font.text_length(text, fontsize=em), (text, em)


def test_a_column_at_its_natural_width_holds_its_widest_cell_on_one_line() -> None:
    """A cell's padding is half a pixel at even ems; rounding the whole width set the content up to half
    a pixel narrower than the widest cell, which wrapped: ``Debian, main`` on two lines at 8, 10 and 12 px,
    and a CSV of 400 such rows drew 6 pages on Claude's where 4 hold it."""
    from router.render.tables import _cell_padding, text_width

    rows = [["id", "origin"], ["0", "Debian, main"], ["1", "local"]]
    for em in (8, 9, 10, 11, 12, 13):
        widths = table_widths(rows, 700, em)
        content = [w - _cell_padding(em) for w in widths]
        assert content[1] >= text_width("Debian, main", em), (em, content)
        assert all(c == round(c) for c in content), (em, content)  # CSS widths are whole pixels
