"""``python -m glasswatch`` runs the command line."""

from glasswatch.cli import main

main()
