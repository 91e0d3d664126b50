"""xax-tui: a Textual terminal app that edits task configs, launches xaxengine runs and shows them live."""
