"""Model backends behind one interface: text in, grounded Mentions out. torch/transformers import lazily."""
