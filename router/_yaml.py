"""Load YAML into a pydantic model, with errors that name the file, the line and the field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml_file(path: str | Path, model: type[ModelT], error: type[Exception]) -> ModelT:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return load_yaml_text(text, model, error, source=str(path))


def load_yaml_text(text: str, model: type[ModelT], error: type[Exception], source: str) -> ModelT:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
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
