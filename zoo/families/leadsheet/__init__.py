"""lstmprovisor's jazz models over chord changes (`-m simple`, `poex`, `compae`) and the lead-sheet encodings."""
