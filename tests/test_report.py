"""Input cost in money: litellm's cost_per_token, tiered prices included."""

from __future__ import annotations

from router.report import input_cost, input_price


def test_tiered_prices_are_applied() -> None:
    flat = input_price("gemini/gemini-2.5-pro")
    assert flat is not None
    assert input_cost("gemini/gemini-2.5-pro", 10_000) == 10_000 * flat
    assert input_cost("gemini/gemini-2.5-pro", 300_000) > 300_000 * flat  # past 200k tokens the rate is higher


def test_unknown_models_have_no_price_and_say_nothing(capsys: object) -> None:
    assert input_cost("totally-made-up-model", 1000) is None
    assert "Provider List" not in capsys.readouterr().out  # type: ignore[attr-defined]
