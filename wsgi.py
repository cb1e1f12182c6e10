"""Entry point for gunicorn (``wsgi:app``) and the Flask CLI (``flask --app wsgi``)."""
import gc

from campaign import create_app

app = create_app()
# What is loaded by now (modules, the app, mappers, templates) lives as long
# as the process: keep it out of the garbage collector's full passes, which
# otherwise stall a request every twenty or so by 70–80 ms (measured with
# scripts/bench_scores.py on the leaderboard read after a logged call).
gc.freeze()
