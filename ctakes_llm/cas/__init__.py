"""The CAS boundary: cTAKES type systems, readers and writers. The only package that knows cTAKES type names."""
