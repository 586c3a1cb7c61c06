"""The metrics a job logs after every epoch (MLflow step = epoch), and which direction is better
for each: the training loop's losses and the tasks' quality metrics (only some exist per task).
One list for the report's curves and the Optuna sweeper's pruner."""

PER_EPOCH = {
    "train_loss": "minimize",
    "eval_loss": "minimize",
    "psnr": "maximize",
    "ssim": "maximize",
    "miou": "maximize",
    "pixel_acc": "maximize",
}
