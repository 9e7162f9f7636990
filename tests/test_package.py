"""The package as a whole: a lazy top level, one error tree, every public name importable."""

from __future__ import annotations

import subprocess
import sys

import pytest

import router
from router import errors


def test_import_router_loads_neither_litellm_nor_pymupdf_and_changes_no_environment() -> None:
    check = (
        "import os, sys; before = dict(os.environ); import router; "
        "assert 'litellm' not in sys.modules and 'fitz' not in sys.modules and 'pymupdf' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('litellm', 'fitz', 'pymupdf'))); "
        "assert dict(os.environ) == before; "
        "import router.errors, router.kinds, router.density_names, router.cli; "
        "assert 'litellm' not in sys.modules and 'pymupdf' not in sys.modules"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("LITELLM")}
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", router.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(router, name) is not None
    assert name in dir(router)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Routr'"):
        router.Routr  # noqa: B018


def test_every_error_is_a_router_error() -> None:
    from router.proxy.errors import ProxyError

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.RouterError), name
    assert issubclass(ProxyError, errors.RouterError)
    assert issubclass(errors.UnknownEncoderError, ValueError)  # also a pydantic validation error in configs
    with pytest.raises(errors.UnknownEncoderError, match="unknown encoder family 'nope'"):
        router.get_profile("nope")
