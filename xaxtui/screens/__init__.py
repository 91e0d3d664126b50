"""The screens of xax-tui: run view, run picker, config editor, launch, help, dialogs."""
