"""One folder per family; each is imported only when one of its model types or encodings is asked for."""
