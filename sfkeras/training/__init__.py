"""Training: losses, discriminator augmentation (ADA), EMA, the loop, checkpoints."""
