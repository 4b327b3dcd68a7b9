"""Jobs: CLI v2 command and sweep jobs run on the local target, their records and metrics.

spec      load a job YAML (azure-ai-ml's ``load_job``) into frozen values
runner    resolve inputs through the workspace, run the command, record the job
sweep     trials in parallel, sampling, early termination, the best trial
sampling  random / grid / bayesian (optuna TPE) search-space samplers
policy    bandit / median stopping / truncation selection, as pure functions
metrics   ``log_metric`` for training scripts (MLflow on Azure ML, a file locally)
record    the job records in ``<home>/stacks/<stack>/jobs.db``
report    the results table and the metric-vs-trial picture
azure     the exact body an Azure ML submission sends, inputs pinned to versions
"""
