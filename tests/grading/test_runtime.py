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
