"""Clinical knowledge: dictionaries (cTAKES BSV, UMLS RRF, open vocabularies) behind one index."""
