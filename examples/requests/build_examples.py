"""Rebuild the bundled example requests from real documents found on a Debian machine.

The documents are not ours: litellm's README (MIT), CPython's ``shlex.py`` (PSF licence), a real
dpkg log, and a section of the Debian Reference in Chinese (GPL-2+, package debian-reference-zh-cn).
Run with ``python examples/requests/build_examples.py`` after ``apt-get install debian-reference-zh-cn``.
"""

from __future__ import annotations

import email
import gzip
import importlib.metadata
import inspect
import json
import shlex
from pathlib import Path

HERE = Path(__file__).parent


def write(name: str, request: dict) -> None:
    (HERE / name).write_text(json.dumps(request, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def long_markdown() -> None:
    readme = email.message_from_string(importlib.metadata.distribution("litellm").read_text("METADATA")).get_payload()
    start = readme.index("## What is LiteLLM")  # skip the HTML banner of badges
    document = readme[start:]
    write(
        "long_markdown.json",
        {
            "model": "claude-sonnet-4-6",
            "messages": [
                {"role": "system", "content": "Answer from the supplied document only. Quote exact names."},
                {
                    "role": "user",
                    "content": "Here is the README of a library we are evaluating:\n\n"
                    + document
                    + "\n\nWhich providers in the table support both /chat/completions and /embeddings?",
                },
            ],
            "max_tokens": 400,
        },
    )


def code_review() -> None:
    source = inspect.getsource(shlex)
    write(
        "code_review.json",
        {
            "model": "gpt-4.1",
            "messages": [
                {
                    "role": "system",
                    "content": "You are a careful senior Python reviewer. Be specific: cite line content.",
                },
                {
                    "role": "user",
                    "content": "Please review this module for bugs and unclear code:\n\n```python\n"
                    + source
                    + "```\n\nList the three most important problems, most serious first.",
                },
            ],
            "temperature": 0,
        },
    )


def long_chat() -> None:
    log_lines = Path("/var/log/dpkg.log").read_text(encoding="utf-8").splitlines()
    log = "\n".join(log_lines[-260:])
    setup = (HERE.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    write(
        "long_chat.json",
        {
            "model": "gemini/gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "You help debug Debian package installs."},
                {"role": "user", "content": "Our image build installs a few packages. Here is the dpkg log:\n\n" + log},
                {
                    "role": "assistant",
                    "content": "The log shows a clean run: each package goes through `install`, "
                    "`status half-installed`, `status unpacked` and finally `status installed`, and the "
                    "triggers for libc-bin and man-db ran at the end. Nothing failed.",
                },
                {
                    "role": "user",
                    "content": "And this is the project file the build uses:\n\n```toml\n" + setup + "```",
                },
                {
                    "role": "assistant",
                    "content": "It declares a setuptools build with a console script `hcr` and pins "
                    "litellm away from 1.107. The optional `test` extra brings pytest and the OCR engine.",
                },
                {"role": "user", "content": "Which package in the dpkg log was installed last, and at what time?"},
            ],
        },
    )


def chinese_document() -> None:
    path = Path("/usr/share/doc/debian-reference-zh-cn/docs/debian-reference.zh-cn.txt.gz")
    text = gzip.open(path, "rt", encoding="utf-8").read()
    start = text.index("GNU/Linux 教程\n", 3000)
    section = text[start : start + 6000]
    write(
        "chinese_document.json",
        {
            "model": "claude-sonnet-4-6",
            "messages": [
                {
                    "role": "user",
                    "content": "下面是《Debian 参考手册》的一节：\n\n"
                    + section
                    + "\n\n请用三句话概括这一节的主要内容。",
                }
            ],
        },
    )


if __name__ == "__main__":
    long_markdown()
    code_review()
    long_chat()
    chinese_document()
