"""``make bench-load``: the pipeline under sustained open-loop load (docs/bench-load.md)."""
