"""Heights from two overlapping photos (stereo)."""
