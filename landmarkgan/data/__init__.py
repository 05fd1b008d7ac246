"""Data: the on-disk manifest format, the synthetic face renderer, real data set readers, pairing, Dataset."""
