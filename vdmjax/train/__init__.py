"""The one train/eval loop shared by every method."""
