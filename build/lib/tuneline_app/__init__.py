"""The application layer: `tuneline` command line, config checker, `serve` and the dashboard forms.

Above pipelines and steps; nothing below imports it (tests/test_layers.py)."""
