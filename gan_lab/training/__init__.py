"""The adversarial trainer and what it needs: checkpoints, EMA, precision."""
