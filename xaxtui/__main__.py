"""``python -m xaxtui`` runs the app."""

from xaxtui.app import main

main()
