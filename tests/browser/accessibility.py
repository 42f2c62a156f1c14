"""An automated accessibility check of a page in the browser: axe-core (npm, pinned in
package-lock.json, installed by `npm ci` in `make test`) run on the page as it is shown.

axe's own script goes in through `page.evaluate` of its text: ServeLab's Content-Security-Policy
(script-src 'self') refuses the inline <script> that `page.add_script_tag` writes, and
evaluation through the DevTools protocol is not subject to the page's policy. So the page keeps
its real policy while it is checked (no `bypass_csp` context).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from support import ROOT, require_service

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# Violations of these impacts fail the check; "moderate" and "minor" ones are printed.
BLOCKING = ("serious", "critical")
# At most this many offending elements are named per rule (a long table repeats itself).
NODES_SHOWN = 5

_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact || "minor",
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
    summary: v.nodes.length ? v.nodes[0].failureSummary : "",
  }));
}"""


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks, with the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]
    summary: str

    @property
    def blocking(self) -> bool:
        return self.impact in BLOCKING

    def __str__(self) -> str:
        shown = ", ".join(self.targets[:NODES_SHOWN])
        more = (
            f" (+{len(self.targets) - NODES_SHOWN} more)" if len(self.targets) > NODES_SHOWN else ""
        )
        fix = " ".join(self.summary.split())
        return f"[{self.impact}] {self.rule}: {self.help} at {shown}{more}. {fix}"


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page) -> list[Violation]:  # type: ignore[no-untyped-def]
    """Every axe-core violation on the page as it is now (its scripts have run)."""
    require_service(AXE.exists(), f"axe-core at {AXE} (run `npm ci`)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    found = page.evaluate(_RUN)
    return [
        Violation(v["id"], v["impact"], v["help"], tuple(v["targets"]), v["summary"]) for v in found
    ]


def accessibility_problems(page, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The page's serious and critical violations (what fails the check), printing the
    others under `name` so they show in `pytest -s` output."""
    violations = axe_violations(page)
    for violation in violations:
        if not violation.blocking:
            print(f"{name}: {violation}")
    return [f"{name}: {v}" for v in violations if v.blocking]
