"""The training input pipeline: the in-memory fast path, the Grain path, and iterators (see ``docs/data.md``)."""
