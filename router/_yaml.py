"""Load YAML into a pydantic model, with errors that name the file, the line and the field path.

Policies and configs are small; a file over ``MAX_YAML_BYTES``, or whose aliases would expand past
``MAX_YAML_NODES`` values (a "billion laughs"), is refused before anything is built from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_NODES", "load_yaml_file", "load_yaml_text"]

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000  # values after alias expansion; shipped policies have a few hundred


def load_yaml_file(path: str | Path, model: type[ModelT], error: type[Exception]) -> ModelT:
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise error(f"{path}: larger than {MAX_YAML_BYTES // 1024} KiB; not read")
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return load_yaml_text(text, model, error, source=str(path))


def load_yaml_text(text: str, model: type[ModelT], error: type[Exception], source: str) -> ModelT:
    if len(text) > MAX_YAML_BYTES:
        raise error(f"{source}: larger than {MAX_YAML_BYTES // 1024} KiB; not read")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        expanded = _expanded_size(root)
        if expanded > MAX_YAML_NODES:
            raise error(f"{source}: aliases expand to over {MAX_YAML_NODES} values; not loaded")
        data = yaml.SafeLoader("").construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise error(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("list[", "function")))]
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{source}:{_line_of(root, loc)}: {field}: {err['msg']}")
        raise error(f"invalid {model.__name__}\n  " + "\n  ".join(problems)) from None


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """1-based line of the YAML node at ``loc``, or of its deepest existing parent."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for key in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _expanded_size(root: yaml.Node | None) -> int:
    """How many values the document holds once every alias is expanded, without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > 200:
            return MAX_YAML_NODES + 1
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        sizes[id(node)] = min(total, MAX_YAML_NODES + 1)
        return sizes[id(node)]

    return size(root, 0) if root is not None else 0
