"""Gold corpus readers (BRAT, PubTator, Anafora, cTAKES XMI) that yield documents with Mentions."""
