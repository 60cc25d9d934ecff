"""Import of the original (PyTorch) Styleformer / StyleGAN2-ADA weights."""
