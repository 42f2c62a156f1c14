"""The runtime image's pins and learners' requirements.txt checks (the images: test_images.py)."""

from __future__ import annotations

import re

import pytest

from servelab.grading import runtime


def test_pins_are_exact_and_cover_the_featured_packages() -> None:
    pins = runtime.runtime_packages()
    for name in ("fastapi", "uvicorn", "pydantic", "numpy", "pandas", "scipy", "scikit-learn"):
        assert re.fullmatch(r"\d+(\.\d+)+(\.post\d+)?", pins[name]), name
    assert "joblib" in pins
    assert list(runtime.featured_packages()) == list(runtime.FEATURED)


def test_requirements_the_image_satisfies_pass() -> None:
    pins = runtime.runtime_packages()
    text = f"""
    # my service
    fastapi
    scikit-learn>=1.0  # any recent one
    numpy=={pins["numpy"]}
    Pandas ; python_version >= "3.8"
    torch ; python_version < "3.0"
    """
    assert runtime.check_requirements(text) == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("torch==2.3.0", "torch is not in the runtime image. The runtime image offers: fastapi"),
        ("pandas<2", "'pandas<2' does not match the image, which has pandas"),
        ("uvicorn[standard]", "optional extras the image does not install; write just 'uvicorn'"),
        ("-r other.txt", "options such as '-r' are not supported"),
        ("--index-url https://evil.example/simple", "options such as '--index-url'"),
        ("mypkg @ https://evil.example/x.whl", "comes from a URL"),
        ("not a requirement!!", "is not a requirement pip could read"),
    ],
)
def test_requirements_the_image_cannot_satisfy_are_explained(line: str, expected: str) -> None:
    problems = runtime.check_requirements(f"fastapi\n{line}\n")
    assert len(problems) == 1
    assert problems[0].startswith("requirements.txt line 2: ")
    assert expected in problems[0]


def test_a_requirements_file_over_the_limits_is_refused_unparsed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "requirements.txt"
    assert runtime.requirements_refusal(path) is None  # no file: nothing to check
    path.write_bytes(b"!!\n" * 1_000_000)
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None and len(refusal) < 1000
    assert "requirements.txt is 2930 KiB; the limit is 64 KiB and 500 lines" in refusal
    assert "was not read" in refusal and "line 1" not in refusal
    path.write_text("fastapi\n" * (runtime.MAX_REQUIREMENTS_LINES + 1))
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None and f"is {runtime.MAX_REQUIREMENTS_LINES + 1} lines" in refusal
    path.write_text("fastapi\n" * runtime.MAX_REQUIREMENTS_LINES)
    assert runtime.requirements_refusal(path) is None


def test_a_requirements_refusal_lists_twenty_problems_and_counts_the_rest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "requirements.txt"
    path.write_text("".join(f"{'x' * 300}{n}!!\n" for n in range(100)))
    refusal = runtime.requirements_refusal(path)
    assert refusal is not None
    lines = refusal.splitlines()
    assert lines[0] == "Nothing was run: requirements.txt asks for what the image lacks."
    assert lines[1].startswith("requirements.txt line 1: ") and lines[20].startswith(
        "requirements.txt line 20: "
    )
    assert lines[21:] == ["… and 80 more problems"]
    assert all(len(line) < 200 for line in lines)  # learners' lines are quoted cut short
