"""The exercise page's editor form: its three files and the modules a learner adds.

The form is plain HTML first (static/editor/ enhances it with CodeMirror, one tab per file,
and mirrors every tab back into these fields on submit). train.py, main.py and requirements.txt
each have a textarea (`train_py`, ...); every added module is a `module_name` + `module_text`
pair, repeated. Without JavaScript the page offers one empty pair; the editor sends one pair per
module tab. Module names are checked here (a Python module path, no clash, bounded count);
everything else (sizes, paths, UTF-8) is the archive's job, the same as for a .zip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from servelab.content.exercise import EDITOR_FILES

# A learner's service rarely needs more; every module is a tab and a pair of form fields.
MAX_EDITOR_MODULES = 20
MAX_MODULE_NAME = 100
# An importable module path: features.py, utils/features.py (static/editor/src/files.js has
# the same rule, so the editor refuses a name before the server would).
MODULE_NAME = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*/)*[A-Za-z_][A-Za-z0-9_]*\.py")
TOO_MANY_MODULES = (
    f"The editor sends at most {MAX_EDITOR_MODULES} added modules; put more in a .zip upload."
)


def editor_field(name: str) -> str:
    """`train.py` -> `train_py`: the editor's textarea names."""
    return name.replace(".", "_")


@dataclass(frozen=True)
class EditorForm:
    """What the editor form sent: the three files, the added modules as sent (shown again on
    a refusal, invalid names included), and the first problem with the modules, if any."""

    files: dict[str, str]
    modules: tuple[tuple[str, str], ...]
    problem: str | None

    def all_files(self) -> dict[str, str]:
        """Every file to submit (only meaningful when `problem` is None)."""
        return {**self.files, **dict(self.modules)}


def module_name_problem(name: str, taken: set[str]) -> str | None:
    """Why `name` cannot be an added module's file name, or None when it can."""
    shown = name[:MAX_MODULE_NAME]
    if not name:
        return "An added module has code but no file name. Name it, such as features.py."
    if name in EDITOR_FILES:
        return f"{name} has its own field already; an added module needs another name."
    if len(name) > MAX_MODULE_NAME or not MODULE_NAME.fullmatch(name):
        return (
            f"{shown!r} is not a module name: use letters, digits and underscores, ending in "
            ".py (such as features.py or utils/features.py)."
        )
    if name in taken:
        return f"There are two modules named {name}; give each module its own name."
    return None


def read_editor_form(
    texts: dict[str, str], names: Sequence[str], module_texts: Sequence[str]
) -> EditorForm:
    """The editor form's fields: `texts` for EDITOR_FILES, `names` / `module_texts` the
    repeated module pairs (a pair left blank, the no-JavaScript form's spare one, is ignored)."""
    files = {name: texts.get(name, "") for name in EDITOR_FILES}
    if len(names) != len(module_texts):
        return EditorForm(
            files, (), "The added modules arrived incomplete (a name without its code). Try again."
        )
    if len(names) > MAX_EDITOR_MODULES + 1:  # + the spare pair of the plain form
        return EditorForm(files, (), TOO_MANY_MODULES)
    modules: list[tuple[str, str]] = []
    problem = None
    for raw_name, text in zip(names, module_texts, strict=True):
        name = raw_name.strip()
        if not name and not text.strip():
            continue
        problem = problem or module_name_problem(name, {n for n, _ in modules})
        modules.append((name, text))
    if problem is None and len(modules) > MAX_EDITOR_MODULES:
        problem = TOO_MANY_MODULES
    return EditorForm(files, tuple(modules), problem)
