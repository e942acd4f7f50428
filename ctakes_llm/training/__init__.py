"""Training the token-classification student that ships as the default model."""
