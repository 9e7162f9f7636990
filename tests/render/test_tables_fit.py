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
