"""``python -m app.cli``: what ``delight dev`` uses to start the worker in its own process."""

from app.cli import main

main()
