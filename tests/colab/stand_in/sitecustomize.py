# Imported by every Python started with this folder on PYTHONPATH (make test-colab's kernels): Colab's kernel has
# google.colab imported before the first cell runs, and so has this one (a namespace package beside protobuf's).
import google.colab  # noqa: F401
