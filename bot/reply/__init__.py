"""The one reply pipeline: an answer shown as it grows, split at a platform's limit, on any platform."""
