"""The bottom layer: small helpers every other layer shares (randomness, atomic files, latents, paths).

Nothing here imports another gan_lab package except gan_lab.errors.
"""
