from centralita.cli import app

app()
