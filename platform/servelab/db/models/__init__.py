"""All SQLModel tables; importing this module registers them on SQLModel.metadata."""

from servelab.db.models.accounts import ApiToken, Role, User, WebSession
from servelab.db.models.grading import *  # noqa: F403
from servelab.db.models.progress import *  # noqa: F403
from servelab.db.models.quiz import *  # noqa: F403

__all__ = ["ApiToken", "Role", "User", "WebSession"]
