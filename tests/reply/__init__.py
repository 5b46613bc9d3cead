"""The reply pipeline: splitting and streaming over a recording surface."""
