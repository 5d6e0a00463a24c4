"""Generators and discriminators.

The trainer knows two interfaces only:
    Generator:     forward(z, cond=None) -> images in [-1, 1]; attribute `latent_dim` (0: no z)
    Discriminator: forward(x, cond=None) -> logits / critic scores, shape (B,) or (B, 1, h, w)
`cond` is None, class labels (B,) or a source image (B, C, H, W).
"""
