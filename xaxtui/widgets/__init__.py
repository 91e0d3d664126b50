"""The panes of xax-tui, one widget per module."""
