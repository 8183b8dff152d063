from cupola.cli.main import run

run()
