from servelab.cli import app

app(prog_name="servelab")
