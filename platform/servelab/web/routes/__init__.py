"""Every router of the app, in the order they are included."""

from servelab.web.routes import auth, docs, ops, pages, quiz, submissions

ALL_ROUTERS = [
    ops.router,
    docs.router,
    auth.router,
    pages.router,
    submissions.router,
    quiz.router,
]
