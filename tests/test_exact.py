"""Exact strings: secrets and hash-dense text stay text, factsheets list what a reader would misread."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from router.exact import ExactSettings, factsheet, identifiers, keep_sharp, ranked_strings

SETTINGS = ExactSettings()


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n", "private key"),
        ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS access key"),
        ("token: ghp_" + "a1B2c3D4e5" * 4, "GitHub token"),
        ("OPENAI_API_KEY=sk-proj-" + "Zx9" * 10, "API key"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "JSON web token",
        ),
        ('db:\n  password: "s3cr3t-Passw0rd"\n', "password"),
    ],
)
def test_secrets_stay_text(text: str, what: str) -> None:
    assert keep_sharp("Deploy notes.\n" + text + "\nThat is all.", SETTINGS) == (
        f"guard:secret: looks like it holds a {what}; secrets are never drawn"
    )


@pytest.mark.parametrize(
    "text",
    [
        "password = os.environ['DB_PASSWORD']",
        "api_key: ${API_KEY}",
        "The password must be at least twelve characters long.",
        "secret=None",
    ],
)
def test_references_to_secrets_are_not_secrets(text: str) -> None:
    assert keep_sharp(text, SETTINGS) is None


def test_hash_dense_text_stays_text_and_prose_with_one_hash_does_not() -> None:
    lock = "\n".join(f"pkg{i}==1.{i} --hash=sha256:{hashlib.sha256(str(i).encode()).hexdigest()}" for i in range(40))
    assert keep_sharp(lock, SETTINGS).startswith("guard:identifiers: ")
    prose = "The release was tagged from commit 3f9ab2c41d7e6f0a5b8c9d2e1f4a7b6c5d8e9f01. " + "It fixes bugs. " * 60
    assert keep_sharp(prose, SETTINGS) is None


def test_factsheet_puts_misses_first_then_hashes_then_numbers() -> None:
    run_id = str(uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0))
    text = (
        f"Run {run_id} finished in 12 s at step 48213 on host build-7.\n"
        "Logs are in /var/log/ci/run.log; set retries=3 to retry; see https://ci.example.org/runs/48213\n"
    )
    ranked = ranked_strings(text, missed=["build-7"])
    assert ranked[0] == "build-7" and ranked[1] == run_id
    assert ranked.index("48213") < ranked.index("/var/log/ci/run.log") < ranked.index("retries=3")
    sheet = factsheet("0123456789", text, "gpt-4o", SETTINGS, missed=["build-7"])
    assert sheet.startswith("[Exact strings in #0123456789") and run_id in sheet
    assert factsheet("0123456789", text, "gpt-4o", ExactSettings(factsheet=False)) is None


def test_factsheet_keeps_to_its_budget() -> None:
    text = " ".join(hashlib.md5(str(i).encode()).hexdigest() for i in range(200))
    tight = factsheet("x", text, "gpt-4o", ExactSettings(factsheet_max_tokens=60))
    roomy = factsheet("x", text, "gpt-4o", ExactSettings(factsheet_max_tokens=400))
    assert 0 < len(tight.splitlines()) < len(roomy.splitlines())


@pytest.mark.parametrize("run", ["a.", "a-", "aB3-", "1,", "a/", "a@", "v1."])
def test_long_runs_of_separators_are_scanned_in_linear_time(run: str) -> None:
    """Caller-controlled text: patterns are bounded so a 100 kB run cannot backtrack quadratically
    (the unbounded e-mail pattern took 22 s on ``a.`` x 50,000 here; bounded, 0.02 s)."""
    text = run * (100_000 // len(run))
    identifiers(text)
    ranked_strings(text)
    assert keep_sharp(text, SETTINGS) is None or keep_sharp(text, SETTINGS).startswith("guard:")
