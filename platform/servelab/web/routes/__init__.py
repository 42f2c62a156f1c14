"""Every router of the app, in the order they are included."""

from servelab.web.routes import auth, ops, pages, quiz, submissions

ALL_ROUTERS = [ops.router, auth.router, pages.router, submissions.router, quiz.router]
