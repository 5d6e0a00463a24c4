"""Jobs: what an entry point runs (train, ...), assembled from the training / evaluation / sampling layers."""
