"""The jobs layer: what each command does, between its thin entry point (train.py, sample.py, evaluate.py,
evaluate_paired.py) and the library (training, evaluation, sampling).

- command_line: the pre-check of the command line (one line and exit code 2 instead of Hydra's report)
- hydra_job: running a job inside Hydra (errors, signals, multirun failures, .hydra/ files)
- train, sample, evaluate, evaluate_paired: one job each
"""
