"""The web app: routers (pages and API), templates, static assets, auth and CSRF."""
