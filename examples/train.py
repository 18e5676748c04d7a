"""A stand-in training script: takes --lr and --model, prints a metric, writes it to the summary."""

import argparse
import math
import os

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--model", required=True)
opts = parser.parse_args()

acc = round(1 - abs(math.log10(opts.lr) + 2) / 10 - (0.05 if opts.model == "vit" else 0), 4)
print(f"model={opts.model} lr={opts.lr} acc={acc}")

if os.environ.get("LABTASKER_TASK_ID"):  # started by `labtasker loop`: record the metric
    import labtasker

    labtasker.report_task_status(os.environ["LABTASKER_TASK_ID"], "running", summary={"acc": acc})
